"""Headless Chromium driven over its DevTools protocol (one websocket, no driver), and `--serve` runs.

Chromium is Debian's (scripts/browser.sh installs it). The page textual-serve gives draws the terminal
on a canvas, so the screen is read from what the page received: the websocket frames the app sent,
as the DevTools protocol reports them, with the terminal's escape sequences taken out.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import websocket

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0  # bounds every wait here (a loaded machine); nothing is timed
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
    "--remote-debugging-port=0",
]
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[P\]][^\x1b\x07]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b.")
CURSOR_MOVE = re.compile(r"\x1b\[[0-9;]*[Hf]")


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def until(condition: Callable[[], Any], what: str, limit: float = WAIT) -> Any:
    """Poll `condition` until it returns something true; AssertionError naming `what` past `limit`."""
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {limit:g} s waiting for {what}")
        time.sleep(0.1)


def _stop_group(process: subprocess.Popen[Any]) -> None:
    """End a process started in a session of its own, with everything it started."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _page_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def serving(*options: str) -> Iterator[str]:
    """`python -m tui --serve OPTIONS` on a free loopback port; yields the page's URL."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "tui", "--serve", "--port", str(port), *options],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        until(lambda: server.poll() is not None or _page_up(url), "the server to answer")
        assert server.poll() is None, server.communicate()[0].decode("utf-8", "replace")
        yield url
    finally:
        _stop_group(server)


class Page:
    """One Chromium tab over the DevTools protocol: navigate, type, read the terminal, screenshot."""

    def __init__(self, ws_url: str, devtools_port: int) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=WAIT, suppress_origin=True)
        self.devtools_port = devtools_port
        self._next_id = 0
        self.frames: list[str] = []
        """Everything the app sent to the page's terminal, in order, as text."""

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        wanted = self._next_id
        self.ws.send(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == wanted:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def _receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.ws.recv())
        if message.get("method") == "Network.webSocketFrameReceived":
            response = message["params"]["response"]
            data = response["payloadData"]
            if response.get("opcode") == 2:  # binary: base64 of the terminal's bytes
                self.frames.append(base64.b64decode(data).decode("utf-8", "replace"))
        return message

    def pump(self, seconds: float = 0.2) -> None:
        """Read what the page reports for a while (new frames land in `frames`)."""
        self.ws.settimeout(seconds)
        try:
            while True:
                self._receive()
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self.ws.settimeout(WAIT)

    def screen_text(self) -> str:
        """The terminal output so far as lines of text: cursor moves become line breaks."""
        joined = "".join(self.frames)
        return ESCAPES.sub("", CURSOR_MOVE.sub("\n", joined))

    def wait_for_text(self, pattern: str, what: str) -> re.Match[str]:
        regex = re.compile(pattern)

        def seen() -> re.Match[str] | None:
            self.pump()
            return regex.search(self.screen_text())

        found: re.Match[str] = until(seen, what)
        return found

    def type(self, text: str) -> None:
        for char in text:
            self.call("Input.dispatchKeyEvent", type="keyDown", text=char, key=char, unmodifiedText=char)
            self.call("Input.dispatchKeyEvent", type="keyUp", key=char)

    def press_enter(self) -> None:
        keys = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        self.call("Input.dispatchKeyEvent", type="keyDown", text="\r", **keys)
        self.call("Input.dispatchKeyEvent", type="keyUp", **keys)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def open(self, url: str) -> None:
        """Report websocket frames, then load `url`."""
        self.call("Network.enable")
        self.call("Page.enable")
        self.call("Page.navigate", url=url)

    def new_tab(self, url: str) -> Page:
        """Another tab of the same browser, on `url`."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.devtools_port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.load(response)
        tab = Page(target["webSocketDebuggerUrl"], self.devtools_port)
        tab.open(url)
        return tab

    def focus_terminal(self) -> None:
        self.call("Runtime.evaluate", expression="document.querySelector('.xterm-helper-textarea').focus()")

    def close(self) -> None:
        self.ws.close()


@contextlib.contextmanager
def chromium(url: str) -> Iterator[Page]:
    """Headless Chromium with a fresh profile, its first tab on `url`, reporting websocket frames."""
    binary = chromium_path()
    assert binary is not None, "no chromium (scripts/browser.sh install)"
    with tempfile.TemporaryDirectory(prefix="mqscope-chromium-") as profile:
        browser = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        page: Page | None = None
        try:
            active = Path(profile) / "DevToolsActivePort"
            until(lambda: browser.poll() is not None or active.exists(), "Chromium's DevTools port")
            assert browser.poll() is None, f"chromium exited with {browser.returncode}"
            port = until(lambda: active.read_text().split("\n")[0].strip(), "the DevTools port number")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                targets = json.load(response)
            tab = next(t for t in targets if t.get("type") == "page")
            page = Page(tab["webSocketDebuggerUrl"], int(port))
            page.open(url)
            yield page
        finally:
            if page is not None:
                page.close()
            _stop_group(browser)
