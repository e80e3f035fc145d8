"""A minimal headless-Chromium driver over the DevTools protocol, for the explorer's browser tests.

No selenium or playwright here: Chromium's own ``--remote-debugging-port`` plus the websockets
package (a Streamlit dependency) are enough to open a page, wait for elements, click, type,
read the DOM and take a screenshot. The page is a real browser running Streamlit's JavaScript,
served by a real ``inbedder app`` (:func:`served_explorer`).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from websockets.sync.client import connect


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless Chromium with one page, driven over a DevTools websocket."""

    def __init__(self, binary: str, profile: Path, width: int = 1400, height: int = 1800):
        self.profile = profile
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--hide-scrollbars", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port = self._devtools_port(timeout=60)
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        self._id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _devtools_port(self, timeout: float) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.process.returncode}")
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            time.sleep(0.2)
        raise TimeoutError("chromium did not open its DevTools port")

    def call(self, method: str, **params) -> dict:
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=120))
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float, interval: float = 1.0) -> bool:
        """Poll a JavaScript expression until it is truthy; False when the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(interval)
        return False

    def click(self, selector: str) -> bool:
        """Click the first element matching a CSS selector (React sees a real click event); False if none."""
        return bool(self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false; "
            "e.scrollIntoView({block: 'center'}); e.click(); return true; })()"
        ))

    def type_into(self, selector: str, text: str) -> bool:
        """Focus an input and type ``text`` as keyboard input (so React's onChange fires); False if none."""
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false; "
            "e.scrollIntoView({block: 'center'}); e.focus(); e.select(); return true; })()"
        )
        if found:
            self.call("Input.insertText", text=text)
        return bool(found)

    def text(self, selector: str) -> str:
        """The innerText of the first element matching ``selector`` ("" when there is none)."""
        return self.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText") or ""

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float) -> None:
    """Wait for Streamlit's health endpoint; fail at once if the server exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"`inbedder app` exited with status {server.returncode}")
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=5).read().strip() == b"ok":
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("the explorer did not answer on /_stcore/health in time")


@contextmanager
def served_explorer(log: Path, timeout: float = 180) -> Iterator[str]:
    """A real ``inbedder app`` on a free loopback port (its URL); the server's process group ends afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "inbedder.cli", "app", "--port", str(port), "--host", "127.0.0.1", "--no-browser"],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True,
        )
        try:
            wait_healthy(url, server, timeout=timeout)
            yield url
        finally:
            stop_server(server)


def stop_server(server: subprocess.Popen) -> None:
    """Stop the server's whole process group: politely, then for sure."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=20)
