"""Render a local HTML file with headless Chromium: a screenshot and the live DOM."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bounds import bound


def chromium_args(binary: str, profile: Path) -> list[str]:
    # No network of any kind: the report must render from the file alone.
    return [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]  # fmt: skip


def screenshot(binary: str, page: Path, png: Path, tmp: Path, size: str = "1400,3000") -> Path:
    subprocess.run(
        [*chromium_args(binary, tmp / "profile-shot"), f"--screenshot={png}",
         f"--window-size={size}", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=bound(120),
    )  # fmt: skip
    return png


def dump_dom(binary: str, page: Path, tmp: Path) -> str:
    done = subprocess.run(
        [*chromium_args(binary, tmp / "profile-dom"), "--dump-dom", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=bound(120), text=True,
    )  # fmt: skip
    return done.stdout
