"""`python -m tui --serve` in headless Chromium: a tab gets its own app, a key typed there routes.

Chromium is Debian's, installed by scripts/browser.sh (CI runs it); without it this test skips with
the reason, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_support import chromium, chromium_path, serving

pytestmark = pytest.mark.browser

SCREENSHOT = os.environ.get("MQSCOPE_BROWSER_SCREENSHOT")
"""Where to save the page once routed (scripts/screenshots.py sets it for screenshots/browser.png)."""


@pytest.fixture
def have_chromium() -> None:
    if chromium_path() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the browser test must run in CI, but chromium is not installed")
        pytest.skip("chromium is not installed (scripts/browser.sh install would apt-get it)")


def test_a_key_typed_in_the_browser_routes(have_chromium: None, tmp_path: Path) -> None:
    """A second tab, opened after the first published, is a session of its own: its own app
    (nothing sent yet) and its own in-process broker (it routes and acks its own message)."""
    with serving("--no-script") as url, chromium(url) as page:
        page.wait_for_text(r"routing lens", "the app's screen in the page")
        page.focus_terminal()
        page.type("user.login")
        page.wait_for_text(r"audit_queue\s+#\s+#=user\.login", "the lens explaining the key as typed")
        page.press_enter()
        routed = page.wait_for_text(r"ROUTED \[([0-9a-f]{8})\] 'user\.login' -> audit_queue", "the route")
        page.wait_for_text(rf"ACKNOWLEDGED \[{routed.group(1)}\] from audit_queue by worker", "the ack")
        page.wait_for_text(r"1 sent, 0 in flight", "the first tab's status line")
        shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "browser.png"
        page.pump(1.0)  # the last frames drawn before the picture
        page.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        second = page.new_tab(url)
        try:
            second.wait_for_text(r"0 sent, 0 in flight", "the second tab's own, fresh app")
            second.focus_terminal()
            second.type("video.upload")
            second.press_enter()
            pattern = r"ROUTED \[([0-9a-f]{8})\] 'video\.upload' -> audit_queue, video_queue"
            other = second.wait_for_text(pattern, "the second tab's route")
            second.wait_for_text(r"1 sent, 0 in flight", "the second tab's count")
            assert other.group(1) != routed.group(1)
            assert "user.login" not in second.screen_text()
        finally:
            second.close()
