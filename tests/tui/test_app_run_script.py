"""--run in the TUI: a program's failure is shown and the app stays up; a program that never ends
does not stop ctrl+q (its mqscope:// connection is closed, so its blocked drain_events ends)."""

from __future__ import annotations

from pathlib import Path

from states import wait_for

from broker_support import fresh_url
from core.engine import Engine
from core.events import ScriptEnded
from core.scenario import Scenario
from core.script_run import ScriptRun
from core.topology import Topology
from tui.app import MqscopeApp
from tui.screen import SessionScreen
from tui.widgets.routing_lens import RoutingLens


def _app(tmp_path: Path, source: str) -> tuple[MqscopeApp, ScriptRun, list[ScriptEnded]]:
    url = fresh_url()
    script = tmp_path / "program.py"
    script.write_text(source.replace("URL", url))
    engine = Engine(Scenario("run", "a program", Topology((), ()), ()), url)
    run = ScriptRun(engine, str(script), [])
    app = MqscopeApp(engine, play_script=False, script=run)
    app.animation_level = "none"
    ended: list[ScriptEnded] = []
    app.frame_hooks.append(lambda events: ended.extend(e for e in events if isinstance(e, ScriptEnded)))
    return app, run, ended


FAILS = """
from kombu import Connection, Exchange, Queue
with Connection("URL") as conn:
    queue = Queue("jobs", Exchange("work", type="direct"), routing_key="job")
    conn.Producer().publish({"n": 1}, exchange=queue.exchange, routing_key="job", declare=[queue])
    raise RuntimeError("the program broke")
"""


async def test_an_exception_in_the_program_is_shown_and_the_app_stays_up(tmp_path: Path) -> None:
    app, run, ended = _app(tmp_path, FAILS)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: bool(ended), "the program's end")
        assert ended[0].exit_code == 1 and ended[0].error == "RuntimeError: the program broke"
        assert isinstance(app.screen, SessionScreen)  # no error screen: the program's bug is not ours
        log = "\n".join(app.session_screen.event_log.plain_lines())
        assert "ERR| RuntimeError: the program broke" in log and "Traceback" in log
        assert app.ledger.topology.queue("jobs") is not None  # what it declared is on the canvas
        lens = app.session_screen.query_one(RoutingLens)
        assert lens is not None and app.is_running
        app.engine.publish("work", "job", {"n": 2})  # the app still works: a message of the app's own
        await wait_for(pilot, lambda: app.ledger.published == 2, "the app's own publish")
    assert run.exit_code == 1


NEVER_ENDS = """
from kombu import Connection
with Connection("URL") as conn:
    conn.SimpleQueue("nothing_comes").get(block=True)
"""


async def test_a_program_that_never_ends_does_not_stop_ctrl_q(tmp_path: Path) -> None:
    app, run, _ended = _app(tmp_path, NEVER_ENDS)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.ledger.topology.queue("nothing_comes") is not None, "its queue")
        assert not run.ended.is_set()
        await pilot.press("ctrl+q")
    assert app.return_code == 0
    assert run.ended.wait(5), "its blocked drain_events ended when its connection was closed"
    assert run.exit_code == 1  # the closed connection raised in the program, as a real one would
