"""The canvas preview lights what the lens's exchange really reaches, and nothing else (issue #15)."""

from __future__ import annotations

from pathlib import Path

from states import make_app, type_text, wait_for
from textual.widgets import Select, Static

from core.scenario import load_scenario
from tui.widgets.diagram_canvas import DiagramCanvas

LOGS = """
[scenario]
name = "logs"
title = "Two exchanges: kernel logs by topic, alerts to everyone"

[[exchanges]]
name = "alerts"
type = "fanout"

[[exchanges]]
name = "logs"
type = "topic"

[[queues]]
name = "kern_any"
bindings = [{ exchange = "logs", routing_key = "kern.*" }]

[[queues]]
name = "critical"
bindings = [{ exchange = "logs", routing_key = "*.critical" }]

[[queues]]
name = "pager"
bindings = [{ exchange = "alerts", routing_key = "" }]

[[consumers]]
name = "reader"
queues = ["kern_any", "critical", "pager"]
"""


async def test_lens_on_logs_lights_only_what_logs_reaches(tmp_path: Path) -> None:
    path = tmp_path / "logs.toml"
    path.write_text(LOGS, encoding="utf-8")
    app = make_app(load_scenario(str(path)), play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.screen.query_one("#exchange", Select).value = "logs"
        await wait_for(pilot, lambda: app.session_screen.lens.exchange == "logs", "the lens on logs")
        app.screen.query_one("#routing-key").focus()
        await type_text(pilot, "kern.disk")
        canvas = app.screen.query_one(DiagramCanvas)
        await wait_for(
            pilot, lambda: canvas.lens is not None and canvas.lens.routing_key == "kern.disk", "the preview"
        )
        assert "-> kern_any" in str(app.screen.query_one("#matches", Static).render())
        lens = canvas.lens
        assert lens is not None
        assert lens.exchanges == {"logs"}  # the fanout `alerts` is not where this message goes
        assert lens.queues == {"kern_any"}
        assert lens.bindings == {("logs", "kern_any", 0)}
        assert lens.unroutable == set()
