"""mqscope's pytest plugin in a teacher's folder: `async def` tests run as written, with no conftest,
no marker and no configuration, and pytest-asyncio keeps the tests it takes."""

from __future__ import annotations

from pathlib import Path

from teacher_folder import run_pytest

TEACHER_TEST = '''\
from tui.testing import make_app, outcomes, publish, settle


async def test_login_reaches_only_the_audit_queue():
    app = make_app("seed", play_script=False)
    async with app.run_test() as pilot:
        msg = await publish(pilot, "user.login")
        await settle(pilot)
    assert msg == "00000001"
    assert outcomes(app) == {msg: {"audit_queue": "acked"}}


async def test_the_fixture_builds_the_same_app(mqscope_app):
    app = mqscope_app("seed", play_script=False)
    async with app.run_test() as pilot:
        await publish(pilot, "nobody.listens")
        await settle(pilot)
    assert list(outcomes(app).values()) == [{"audit_queue": "acked"}]
'''

FAILING_TEST = '''\
from tui.testing import make_app, outcomes, publish, settle


async def test_a_wrong_guess_fails():
    app = make_app("seed", play_script=False)
    async with app.run_test() as pilot:
        msg = await publish(pilot, "user.login")
        await settle(pilot)
    assert outcomes(app)[msg] == {"video_queue": "acked"}
'''

ASYNCIO_TESTS = '''\
import asyncio

import pytest
import pytest_asyncio

from tui.testing import make_app, outcomes, publish, settle


@pytest_asyncio.fixture
async def the_loop_id():
    return id(asyncio.get_running_loop())


MARK
async def test_pytest_asyncio_runs_this(the_loop_id):
    assert the_loop_id == id(asyncio.get_running_loop())  # the fixture ran in this test's own loop


async def test_a_pilot_test_beside_it():
    app = make_app("seed", play_script=False)
    async with app.run_test() as pilot:
        msg = await publish(pilot, "video.upload")
        await settle(pilot)
    assert outcomes(app)[msg] == {"video_queue": "acked", "audit_queue": "acked"}
'''


def _teacher(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "lesson_tests"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_teachers_folder_runs_async_pilot_tests_with_no_configuration(tmp_path: Path) -> None:
    folder = _teacher(tmp_path, {"test_routing.py": TEACHER_TEST})
    result = run_pytest(folder, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout, result.stdout
    assert "PytestUnhandledCoroutineWarning" not in result.stdout + result.stderr
    assert "never awaited" not in result.stdout + result.stderr


def test_a_wrong_assertion_fails_the_teachers_test(tmp_path: Path) -> None:
    """The plugin really runs the coroutine: a wrong answer is a failure, not a silent pass."""
    folder = _teacher(tmp_path, {"test_wrong.py": FAILING_TEST})
    result = run_pytest(folder, "-q")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout and "{'audit_queue': 'acked'}" in result.stdout, result.stdout


def test_pytest_asyncio_in_auto_mode_keeps_its_tests(tmp_path: Path) -> None:
    """In auto mode pytest-asyncio runs every async test (its async fixture, which only it provides,
    proves it ran that one), and a pilot test under it works too."""
    folder = _teacher(
        tmp_path,
        {
            "test_auto.py": ASYNCIO_TESTS.replace("MARK\n", ""),
            "pytest.ini": "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n",
        },
    )
    result = run_pytest(folder, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout, result.stdout


def test_pytest_asyncio_strict_mode_keeps_its_marked_tests(tmp_path: Path) -> None:
    """Strict mode (pytest-asyncio's default): the test marked asyncio is pytest-asyncio's, the
    unmarked one mqscope's; both run."""
    folder = _teacher(tmp_path, {"test_strict.py": ASYNCIO_TESTS.replace("MARK", "@pytest.mark.asyncio")})
    result = run_pytest(folder, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout, result.stdout


ANYIO_MARKED = '''\
import pytest


@pytest.mark.anyio
async def test_left_to_anyio():
    pass


@pytest.mark.trio
async def test_left_to_trio():
    pass
'''


def test_tests_marked_for_anyio_or_trio_are_left_to_those_plugins(tmp_path: Path) -> None:
    """With the anyio and trio plugins absent (anyio's is switched off: httpx brings anyio in), a test
    marked for them is given way to, so pytest itself reports it as not runnable, rather than mqscope
    running it on asyncio."""
    folder = _teacher(
        tmp_path,
        {"test_marked.py": ANYIO_MARKED, "pytest.ini": "[pytest]\nmarkers =\n    anyio\n    trio\n"},
    )
    result = run_pytest(folder, "-q", "-p", "no:asyncio", "-p", "no:anyio")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 failed" in result.stdout and "not natively supported" in result.stdout, result.stdout


def test_a_test_marked_anyio_is_run_by_anyios_own_plugin(tmp_path: Path) -> None:
    """anyio is installed (httpx depends on it): its own plugin runs the test marked anyio, and the
    one marked trio, whose plugin is absent, is still left for pytest to refuse."""
    folder = _teacher(
        tmp_path,
        {"test_marked.py": ANYIO_MARKED, "pytest.ini": "[pytest]\nmarkers =\n    anyio\n    trio\n"},
    )
    result = run_pytest(folder, "-q", "-p", "no:asyncio", "-rA")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PASSED test_marked.py::test_left_to_anyio" in result.stdout, result.stdout
    assert "FAILED test_marked.py::test_left_to_trio" in result.stdout, result.stdout
