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
    with serving("--no-script") as url, chromium(url) as page:
        page.wait_for_text(r"routing lens", "the app's screen in the page")
        page.call("Runtime.evaluate", expression="document.querySelector('.xterm-helper-textarea').focus()")
        page.type("user.login")
        page.wait_for_text(r"audit_queue\s+#\s+#=user\.login", "the lens explaining the key as typed")
        page.press_enter()
        routed = page.wait_for_text(r"ROUTED \[([0-9a-f]{8})\] 'user\.login' -> audit_queue", "the route")
        page.wait_for_text(rf"ACKNOWLEDGED \[{routed.group(1)}\] from audit_queue by worker", "the ack")
        shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "browser.png"
        page.pump(1.0)  # the last frames drawn before the picture
        page.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
