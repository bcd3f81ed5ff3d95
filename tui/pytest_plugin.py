"""mqscope's pytest plugin (entry point `pytest11`): `async def` pilot tests run as written.

Installed with mqscope, it gives any project:
- the `mqscope_app` fixture: `mqscope_app("seed", play_script=False)` is `tui.testing.make_app`;
- `async def test_...` functions run on a fresh event loop, with no marker and no configuration,
  because pytest itself runs no coroutine (it skips them with a warning).

It gives way to an async plugin a project chose: a test marked `asyncio`, `anyio` or `trio`, a test
using anyio's `anyio_backend` fixture, and every test pytest-asyncio took (its auto mode, or its
marker in strict mode, hand pytest a plain function, so this hook sees no coroutine) run as those
plugins say. Nothing heavy is imported until a test asks for the fixture.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tui.app import MqscopeApp

OTHER_RUNNERS = ("asyncio", "anyio", "trio")
"""Markers of the async plugins that run their own coroutine tests."""


def _asyncio_auto_mode(config: pytest.Config) -> bool:
    """pytest-asyncio is active and in auto mode (it then runs every `async def` test itself)."""
    if not config.pluginmanager.has_plugin("asyncio"):
        return False
    mode = config.getoption("asyncio_mode", None)
    if mode is None:
        try:
            mode = config.getini("asyncio_mode")
        except ValueError:  # the option is unknown: not pytest-asyncio after all
            return False
    return str(mode) == "auto"


def _runs_elsewhere(item: pytest.Function) -> bool:
    if any(item.get_closest_marker(name) is not None for name in OTHER_RUNNERS):
        return True
    return "anyio_backend" in item.funcargs or _asyncio_auto_mode(item.config)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an `async def` test on a fresh event loop, unless another async plugin runs it."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj) or _runs_elsewhere(pyfuncitem):
        return None
    names = pyfuncitem._fixtureinfo.argnames  # the test's own arguments, as pytest's own call passes
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture
def mqscope_app() -> Iterator[Callable[..., MqscopeApp]]:
    """A factory for pilot tests: `app = mqscope_app("seed", play_script=False)` (tui.testing.make_app:
    animations off, ids 00000001..., an empty in-process broker). In-process brokers are emptied
    again after the test."""
    from tui.testing import make_app, reset_broker_state

    def factory(*args: Any, **kwargs: Any) -> MqscopeApp:
        return make_app(*args, **kwargs)

    yield factory
    reset_broker_state()
