"""A tiny host App for the diagram canvas alone, with a clock the test moves by hand."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from core.backends import DEFAULT_BROKER_URL
from core.broker import reset_brokers
from core.engine import Engine
from core.events import Acked, Delivered, FlowEvent, Published, QueueDepth, Routed
from core.ledger import Ledger
from core.runner import LoopRunner
from core.scenario import load_scenario
from core.topology import Topology
from tui.testing import counting_ids
from tui.widgets.diagram_canvas import DiagramCanvas


class ManualClock:
    """A clock that only moves when told: token positions become a function of the test's steps."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class DiagramHost(App[None]):
    """The canvas filling the screen; messages it posts are recorded in `selected`."""

    def __init__(self, topology: Topology | str = "seed", clock: ManualClock | None = None) -> None:
        super().__init__()
        self.topology = load_scenario(topology).topology if isinstance(topology, str) else topology
        self.clock = clock or ManualClock()
        self.selected: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield DiagramCanvas(self.topology, clock=self.clock, id="flow")

    @property
    def canvas(self) -> DiagramCanvas:
        return self.query_one(DiagramCanvas)

    def on_diagram_canvas_node_selected(self, message: DiagramCanvas.NodeSelected) -> None:
        self.selected.append((message.kind, message.name))

    def on_diagram_canvas_token_selected(self, message: DiagramCanvas.TokenSelected) -> None:
        self.selected.append(("token", message.msg))


def delivered_and_acked(msg: str, queue: str, consumer: str = "worker") -> list[FlowEvent]:
    return [
        Delivered(msg=msg, queue=queue, consumer=consumer),
        Acked(msg=msg, queue=queue, consumer=consumer),
    ]


def published(
    msg: str, key: str, queues: tuple[str, ...], exchange: str = "media_exchange"
) -> list[FlowEvent]:
    return [
        Published(msg=msg, exchange=exchange, routing_key=key, body={}),
        Routed(msg=msg, exchange=exchange, routing_key=key, queues=queues),
    ]


def engine_events(scenario: str, *, speed: float = 8.0, timeout: float = 30.0) -> list[FlowEvent]:
    """Run a built-in scenario on the default (in-process) broker in plain threads until every
    published message settled, and return every event it emitted, in order (real input for the canvas)."""
    reset_brokers()  # the in-process broker is process-wide: start from empty queues
    engine = Engine(load_scenario(scenario), DEFAULT_BROKER_URL, speed=speed, ids=counting_ids())
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner)
    ledger = Ledger(engine.topology, keep=0, stories=False)
    out: list[FlowEvent] = []
    expected = len(engine.scenario.publishes)
    deadline = time.monotonic() + timeout
    try:
        while not (ledger.published >= expected and ledger.all_settled and _depths_empty(out)):
            assert time.monotonic() < deadline, f"{scenario} did not settle: {ledger.unsettled()}"
            engine.events.wait(0.05)
            for event in engine.events.drain():
                ledger.feed(event)
                out.append(event)
            runner.raise_first_error()
    finally:
        runner.shutdown()
    out.extend(engine.events.drain())
    return out


def _depths_empty(events: list[FlowEvent]) -> bool:
    """The broker's last reported depth of every queue seen is 0 ready, 0 unacked."""
    last: dict[str, tuple[int, int]] = {}
    for event in events:
        if isinstance(event, QueueDepth):
            last[event.queue] = (event.ready, event.unacked)
    return all(depth == (0, 0) for depth in last.values())
