"""``inbedder app``: serve the explorer (a Streamlit server on this machine) and open it.

Streamlit always runs headless, with stdin from /dev/null and its e-mail prompt off: its
first-run prompt otherwise waits for a terminal (and dies with status 255 without one). The
browser tab is opened from here once the server answers. Kept light at import time (no torch,
no streamlit, no pandas): ``inbedder --help`` imports every subcommand module.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from inbedder.app import access
from inbedder.errors import InBedderError

EXPLORER = Path(__file__).with_name("explorer.py")
SERVER_START_TIMEOUT = 120.0  # seconds to wait for the server before giving up on the browser tab

EPILOG = """examples:
  inbedder app                          # http://localhost:8501, opens a browser tab
  inbedder app --port 8600 --no-browser
  inbedder app --host 0.0.0.0           # reachable from other machines (no authentication!)

Same page as `streamlit run app/explorer.py`. On an address other than localhost the page
loads only the catalogue models already on this server (the embedded smollm2-135m and those
fetched) and the shipped adapters unless --allow-any-model is given."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``inbedder app`` to the CLI's subcommands."""
    parser = commands.add_parser(
        "app", help="open the explorer: upload texts, ask a question, see and compare clusterings",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default %(default)s)")
    parser.add_argument("--host", default="localhost", help="address to listen on (default %(default)s)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument(
        "--allow-any-model", action="store_true",
        help="let visitors load any model folder or hub id even when --host is not localhost "
             "(default there: only the catalogue models on this server and the shipped adapters)",
    )
    parser.set_defaults(handler=run_app)


def streamlit_command(port: int, host: str) -> list[str]:
    """The command that serves the explorer: headless, no prompt, our upload limit, errors as one line."""
    from inbedder.app.loading import MAX_UPLOAD_MB

    if not 1 <= port <= 65535:
        raise InBedderError(f"--port {port} is not a port number; use 1–65535 (default 8501)")
    return [
        sys.executable, "-m", "streamlit", "run", str(EXPLORER),
        "--server.port", str(port), "--server.address", host,
        "--server.headless", "true",
        "--server.showEmailPrompt", "false",
        "--server.maxUploadSize", str(MAX_UPLOAD_MB),
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "minimal",
    ]


def local_name(host: str) -> str:
    """The name this machine reaches a server listening on ``host`` by (a wildcard: localhost)."""
    name = host.strip().strip("[]")
    return "localhost" if name in ("", "0.0.0.0", "::") else name


def browser_url(host: str, port: int) -> str:
    """Where a browser on this machine finds the server."""
    name = local_name(host)
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"


def can_open_browser() -> bool:
    """Whether a graphical browser can open: never start a text-mode one inside our terminal."""
    if os.environ.get("BROWSER") or sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def wait_for_port(host: str, port: int, server: subprocess.Popen, *, timeout: float = SERVER_START_TIMEOUT) -> bool:
    """True once something accepts connections on ``host:port``; False if the server died or timed out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.25)
    return False


def open_when_ready(host: str, port: int, server: subprocess.Popen) -> None:
    """Open the page in the user's browser once the server answers (runs in a thread)."""
    import webbrowser

    url = browser_url(host, port)
    if not wait_for_port(local_name(host), port, server):
        return  # the server's own messages say why
    try:
        opened = can_open_browser() and webbrowser.open(url)
    except Exception:  # noqa: BLE001 - a browser that fails to start must not stop the server
        opened = False
    if not opened:
        print(f"inbedder: open {url} in a browser", file=sys.stderr)


def _exit_on_signal(signum: int, frame: object) -> None:
    """Turn SIGTERM/SIGHUP into SystemExit, so the server is stopped on the way out."""
    raise SystemExit(128 + signum)


def _stop(server: subprocess.Popen, grace: float) -> None:
    """Let the server finish for ``grace`` seconds, then terminate it (kill if it hangs)."""
    try:
        server.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run_app(args: argparse.Namespace) -> None:
    """Serve until Ctrl-C; a missing streamlit is a one-line error naming the extra to install."""
    for module in ("streamlit", "plotly", "umap"):
        if importlib.util.find_spec(module) is None:
            raise InBedderError(f"the explorer needs {module}; install the app extras: pip install 'inbedder[app]'")
    command = streamlit_command(args.port, args.host)
    environment = {**os.environ, **access.environment(args.host, allow_any_model=args.allow_any_model)}
    print(f"inbedder: explorer at http://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr)
    if not access.allows_any_model(args.host, allow_any_model=args.allow_any_model):
        print("inbedder: reachable from other machines: the page loads only the catalogue models on this server "
              "and the shipped adapters (--allow-any-model lifts this)", file=sys.stderr)
    handled = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    if threading.current_thread() is not threading.main_thread():
        handled = []  # signal handlers can only be set from the main thread
    previous = {s: signal.signal(s, _exit_on_signal) for s in handled}
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=environment)
    grace = 0.0  # a terminated `inbedder app` takes its server down with it
    try:
        if not args.no_browser:
            threading.Thread(target=open_when_ready, args=(args.host, args.port, server), daemon=True).start()
        code = server.wait()
    except KeyboardInterrupt:
        grace = 10.0  # Ctrl-C reached the server too: let it shut down by itself
        return
    finally:
        _stop(server, grace)
        for s, handler in previous.items():
            signal.signal(s, handler)
    if code not in (0, -2, 130):
        raise InBedderError(f"the explorer's server stopped with status {code}; see its messages above")
