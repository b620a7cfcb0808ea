"""Headless Chromium driven over the DevTools protocol (a websocket on 127.0.0.1).

Enough to log in to a page like a person (focus a field, type, press Enter), follow
the app's own redirects, read what the page shows and take a screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bounds import bound

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage", "--hide-scrollbars",
)  # fmt: skip


def find_chromium() -> str:
    """Debian's chromium; installed with apt-get when missing and root (as .ci/run does)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=bound(300),
                           capture_output=True)  # fmt: skip
            subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env,
                           check=True, timeout=bound(600), capture_output=True)  # fmt: skip
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("Chromium is not installed (apt-get install chromium) and cannot be here")
    return found


class Page:
    """One browser tab: commands are sent and answered in order over one websocket."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(
            connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=30))
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 60.0) -> None:
        """Polls ``expression`` until it is truthy (the page's own scripts are async)."""
        deadline = time.monotonic() + bound(timeout)
        while time.monotonic() < deadline:
            with contextlib.suppress(AssertionError):
                # Boolean(): a DOM node does not come back by value.
                if self.evaluate(f"Boolean({expression})") is True:
                    return
            time.sleep(0.25)
        url = self.evaluate("location.href")
        text = self.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(f"timed out waiting for {expression!r} at {url}: {text!r:.800}")

    def type_into(self, selector: str, text: str) -> None:
        self.wait_for(f"document.querySelector({json.dumps(selector)})")
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def click(self, expression: str) -> None:
        """A real mouse click at the middle of the element ``expression`` (some widgets
        ignore a scripted ``.click()``)."""
        self.wait_for(expression)
        x, y = self.evaluate(f"(() => {{ const r = ({expression}).getBoundingClientRect();"
                             " return [r.x + r.width / 2, r.y + r.height / 2]; })()")  # fmt: skip
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)  # fmt: skip

    def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                      windowsVirtualKeyCode=13, text="\r" if kind == "keyDown" else "")  # fmt: skip

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def chromium_page(binary: str, profile: Path, port: int,
                  size: str = "1400,1600") -> Iterator[Page]:  # fmt: skip
    """A fresh headless Chromium (its own profile) and its first tab."""
    proc = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
         f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    page: Page | None = None
    try:
        deadline = time.monotonic() + bound(60)
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not targets:
            listing = f"http://127.0.0.1:{port}/json/list"
            with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(
                listing, timeout=5
            ) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            if not targets:
                time.sleep(0.25)
        assert targets, "Chromium did not open its DevTools endpoint"
        page = Page(targets[0]["webSocketDebuggerUrl"])
        page.send("Page.enable")
        page.send("Runtime.enable")
        yield page
    finally:
        if page is not None:
            page.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=bound(10))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=bound(5))
