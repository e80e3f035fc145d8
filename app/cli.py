"""``inbedder app``: open the explorer in the browser (a Streamlit server on this machine).

Kept light at import time (no torch, no streamlit): ``inbedder --help`` imports every
subcommand module.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

from inbedder.errors import InBedderError

EXPLORER = Path(__file__).with_name("explorer.py")

EPILOG = """examples:
  inbedder app                          # http://localhost:8501, opens a browser tab
  inbedder app --port 8600 --no-browser
  inbedder app --host 0.0.0.0           # reachable from other machines (no authentication!)

Same page as `streamlit run app/explorer.py`."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``inbedder app`` to the CLI's subcommands."""
    parser = commands.add_parser(
        "app", help="open the explorer: upload texts, ask a question, see and compare clusterings",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default %(default)s)")
    parser.add_argument("--host", default="localhost", help="address to listen on (default %(default)s)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.set_defaults(handler=run_app)


def streamlit_command(port: int, host: str, browser: bool = True) -> list[str]:
    """The command that serves the explorer; usage statistics off, errors as one line."""
    if not 1 <= port <= 65535:
        raise InBedderError(f"--port {port} is not a port number; use 1–65535 (default 8501)")
    return [
        sys.executable, "-m", "streamlit", "run", str(EXPLORER),
        "--server.port", str(port), "--server.address", host,
        "--server.headless", "false" if browser else "true",
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "minimal",
    ]


def run_app(args: argparse.Namespace) -> None:
    """Serve until Ctrl-C; a missing streamlit is a one-line error naming the extra to install."""
    for module in ("streamlit", "plotly", "umap"):
        if importlib.util.find_spec(module) is None:
            raise InBedderError(f"the explorer needs {module}; install the app extras: pip install 'inbedder[app]'")
    print(f"inbedder: explorer at http://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr)
    try:
        code = subprocess.call(streamlit_command(args.port, args.host, not args.no_browser))
    except KeyboardInterrupt:
        return
    if code not in (0, -2, 130):
        raise InBedderError(f"the explorer's server stopped with status {code}; see its messages above")
