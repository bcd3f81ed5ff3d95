"""core/ stays free of the UI, and headless mode never loads Textual."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

UI_MODULES = ("textual", "rich", "tui")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_core_imports_no_ui() -> None:
    code = "\n".join(
        f"import core.{m}"
        for m in (
            "topology", "scenario", "routing", "events", "engine", "headless", "eventlog", "backends",
            "runner", "reconnect", "errors", "publishing",
        )
    )
    assert not _loaded_after(code) & {"textual", "rich", "tui"}


def test_headless_cli_does_not_import_textual() -> None:
    loaded = _loaded_after("import tui.cli")
    assert "textual" not in loaded
    assert "rich" not in loaded


def test_password_never_shown() -> None:
    from core.backends.base import mask_password

    assert mask_password("amqp://guest:s3cret@127.0.0.1:5672/vh") == "amqp://guest:***@127.0.0.1:5672/vh"
    assert "s3cret" not in mask_password("amqp://u:s3cret@h:99999/")
    assert mask_password("memory://") == "memory://"
    assert mask_password("amqp://u@h/") == "amqp://u@h/"


@given(st.text(min_size=1), st.sampled_from(["amqp", "memory", "mqscope", "redis"]))
def test_no_password_leaks_whatever_it_holds(password: str, scheme: str) -> None:
    from core.backends.base import mask_password

    for secret in (password, "12/" + password, password + "?x=1", "a#" + password):
        shown = mask_password(f"{scheme}://guest:{secret}@127.0.0.1:5672/vh")
        assert shown == f"{scheme}://guest:***@127.0.0.1:5672/vh"
