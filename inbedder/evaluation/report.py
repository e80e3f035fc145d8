"""Tables of evaluation results (terminal and Markdown) and the files a run leaves behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

Cell = Callable[[dict], float | str | None]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def _get(*keys: str) -> Cell:
    def read(row: dict) -> Any:
        for key in keys:
            if not isinstance(row, dict) or key not in row:
                return None
            row = row[key]
        return row
    return read


def _subject_label(row: dict) -> str:
    return f"{row['name']} (ref.)" if row.get("kind") == "reference" else row["name"]


def summary_table(rows: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    """The paper's Table 1 shape: one row per subject, one column per test (×100)."""
    columns: list[tuple[str, Cell]] = []
    if any("triplets" in row for row in rows):
        columns.append(("IntEmo HM", _get("triplets", "harmonic_mean")))
    if any("sts" in row for row in rows):
        columns.append(("I.STS ρ", _get("sts", "spearman")))
    if any("clustering" in row for row in rows):
        columns.append(("Clust. HM", _get("clustering", "harmonic_mean")))
    if any("awareness_avg" in row for row in rows):
        columns.append(("Avg", _get("awareness_avg")))
    if any("robustness" in row for row in rows):
        columns += [("Rob. correct", _get("robustness", "mean", "correct")),
                    ("Δci", _get("robustness", "mean", "delta_ci")),
                    ("Δii", _get("robustness", "mean", "delta_ii"))]
    headers = ["subject"] + [name for name, _ in columns] + ["seconds"]
    body = [[_subject_label(row)] + [_pct(cell(row)) for _, cell in columns] + [f"{row['seconds']['total']:.0f}"] for row in rows]
    return headers, body


def awareness_table(rows: Sequence[dict]) -> tuple[list[str], list[list[str]]] | None:
    """Every awareness figure: both triplet rates, Spearman, V-measure of each labelling (×100)."""
    if not any(key in row for row in rows for key in ("triplets", "sts", "clustering")):
        return None
    columns: list[tuple[str, Cell]] = []
    if any("triplets" in row for row in rows):
        columns += [("intent", _get("triplets", "intent")), ("emotion", _get("triplets", "emotion")),
                    ("IntEmo HM", _get("triplets", "harmonic_mean"))]
    if any("sts" in row for row in rows):
        columns.append(("I.STS ρ", _get("sts", "spearman")))
    labelings = next((list(row["clustering"]["k"]) for row in rows if "clustering" in row), [])
    columns += [(f"V {name}", _get("clustering", name)) for name in labelings]
    if labelings:
        columns.append(("Clust. HM", _get("clustering", "harmonic_mean")))
    headers = ["subject"] + [name for name, _ in columns]
    return headers, [[_subject_label(row)] + [_pct(cell(row)) for _, cell in columns] for row in rows]


def robustness_table(rows: Sequence[dict]) -> tuple[list[str], list[list[str]]] | None:
    """Per subject and corpus: mean V of each instruction set, Δci, Δii and the strict forms (×100)."""
    if not any("robustness" in row for row in rows):
        return None
    keys = ("correct", "implicit", "incorrect", "delta_ci", "delta_ii", "strict_ci", "strict_ii")
    headers = ["subject", "task", "correct", "implicit", "incorrect", "Δci", "Δii", "min(c)−max(i)", "min(im)−max(i)"]
    body = []
    for row in rows:
        for task, result in row.get("robustness", {}).get("tasks", {}).items():
            body.append([_subject_label(row), task] + [_pct(result[key]) for key in keys])
    return headers, body


def render(headers: list[str], body: list[list[str]], *, markdown: bool = False) -> str:
    """A plain aligned table for the terminal, or a GitHub Markdown table."""
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i == 0 else "--:" for i in range(len(headers))) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *body)]
    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(row) for row in body])


def all_tables(rows: Sequence[dict], markdown: bool = False) -> str:
    """Summary, awareness detail and robustness detail, each with a title."""
    parts = [("Summary (×100)", summary_table(rows))]
    for title, table in (("Instruction awareness (×100)", awareness_table(rows)),
                         ("Instruction robustness: mean V-measure per instruction set (×100)", robustness_table(rows))):
        if table is not None:
            parts.append((title, table))
    heading = "### " if markdown else ""
    return "\n\n".join(f"{heading}{title}\n\n{render(*table, markdown=markdown)}" for title, table in parts)


DEFINITIONS = """Definitions (paper §3.2–3.3): *IntEmo* — share of triplets with d(anchor, positive) < d(anchor, negative)
(cosine distance) under the intent question and under the emotion question, and their harmonic mean (HM).
*I.STS ρ* — Spearman between the cosine similarity of each pair under its instruction and its 0/1 label.
*Clust.* — k-means (L2-normalised, n_init=10, seeded) with k = classes of each labelling, under that labelling's
question; V-measure of each and their HM. *Avg* — mean of IntEmo HM, I.STS ρ and Clust. HM (Table 1).
*Robustness* — mean V-measure over 10 correct / 10 implicit / 10 incorrect instructions; Δci = correct − incorrect,
Δii = implicit − incorrect; the strict forms are min(correct or implicit) − max(incorrect). Δ columns of the summary
are averaged over the robustness corpora. `(ref.)` rows are the references: `prompt` (sentence encoder on
instruction ⊕ text) and `no-instruction` (the same sentence encoder on the text alone)."""


def markdown_report(record: dict[str, Any]) -> str:
    """The Markdown file of a run: what ran, on what, how long, and every table."""
    parameters = record["parameters"]
    lines = [
        f"# InBedder evaluation: {record['command']}", "",
        f"- command: `{record['command_line']}`",
        f"- started: {record['started']}; wall time: {record['wall_seconds']:.0f} s"
        + ("" if record.get("complete", True) else " so far (**incomplete**: the run is still going or was stopped)"),
        f"- model: {record.get('model') or 'the default model'}; adapter: {record.get('adapter') or parameters.get('adapter') or 'none'}",
        f"- seed: {parameters.get('seed')}; limit: {parameters.get('limit') or 'none (full sets)'}",
    ]
    for test, info in record["data"].items():
        lines.append(f"- {test}: {_describe_data(info)}")
    lines += ["", all_tables(record["subjects"], markdown=True), "", DEFINITIONS, ""]
    return "\n".join(lines)


def _describe_data(info: dict) -> str:
    if "source" in info:
        sizes = {key: value for key, value in info.items() if key.startswith("n_")}
        return f"{info['source']} " + ", ".join(f"{key[2:]}={value}" for key, value in sizes.items())
    return "; ".join(f"{name}: {task['source']} ({task['n_texts']} texts, k={task['k']})" for name, task in info.items())


def write_run(record: dict[str, Any], output_dir: str | Path) -> tuple[Path, Path]:
    """``results.json`` (every figure, parameters) and ``results.md`` (the tables) in ``output_dir``."""
    from inbedder.io import write_json

    folder = Path(output_dir)
    json_path = write_json(record, folder / "results.json")
    md_path = folder / "results.md"
    md_path.write_text(markdown_report(record), encoding="utf-8")
    return json_path, md_path
