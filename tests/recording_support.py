"""A recording to replay: dead_letter on mqscope:// run headless with topology edits made while it
runs (as the app's editor makes them), written by the recorder the CLI's --record uses."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from core.engine import Engine
from core.headless import HeadlessOptions, run_headless
from core.recording import Recorder, header
from core.scenario import load_scenario
from core.topology import ExchangeSpec
from core.topology_changes import declare, delete, queue_binding
from tui.testing import counting_ids, reset_broker_state

AUDIT = ExchangeSpec("audit", "fanout")
"""The exchange the edits declare, bind to orders_dead, unbind and delete again."""


def record_dead_letter(path: Path) -> str:
    """Record the session into `path`; returns what headless printed (--json lines)."""
    reset_broker_state()
    scenario = load_scenario("dead_letter")
    engine = Engine(scenario, "mqscope://", speed=4.0, ids=counting_ids())
    recorder = Recorder(
        str(path),
        header(
            broker=engine.backend.display_url(),
            scenario=scenario.name,
            title=scenario.title,
            topology=engine.topology,
            mode="scenario",
        ),
    )
    recorder.tee(engine.events)
    edits = [declare(AUDIT), declare(queue_binding("audit", "orders_dead"))]
    undo = [delete(queue_binding("audit", "orders_dead")), delete(AUDIT)]

    def edit() -> None:
        if engine.declared.wait(30):
            engine.change_topology_all(edits)
            engine.change_topology_all(undo)

    editor = threading.Thread(target=edit)
    editor.start()
    out = io.StringIO()
    try:
        code = run_headless(engine, HeadlessOptions(as_json=True, timeout=60), out)
    finally:
        editor.join()
        recorder.close()
    assert code == 0, out.getvalue()
    return out.getvalue()
