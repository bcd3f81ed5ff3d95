"""A tiny host App for the flow canvas alone, with a clock the test moves by hand."""

from __future__ import annotations

from textual.app import App, ComposeResult

from core.events import Acked, ConsumerState, Delivered, FlowEvent, Published, Routed
from core.scenario import load_scenario
from core.topology import Topology
from tui.widgets.flow_canvas import FlowCanvas


class ManualClock:
    """A clock that only moves when told: token positions become a function of the test's steps."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FlowHost(App[None]):
    """The canvas filling the screen; messages it posts are recorded in `selected`."""

    def __init__(self, topology: Topology | str = "seed", clock: ManualClock | None = None) -> None:
        super().__init__()
        self.topology = load_scenario(topology).topology if isinstance(topology, str) else topology
        self.clock = clock or ManualClock()
        self.selected: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield FlowCanvas(self.topology, clock=self.clock, id="flow")

    @property
    def canvas(self) -> FlowCanvas:
        return self.query_one(FlowCanvas)

    def on_flow_canvas_node_selected(self, message: FlowCanvas.NodeSelected) -> None:
        self.selected.append((message.kind, message.name))

    def on_flow_canvas_token_selected(self, message: FlowCanvas.TokenSelected) -> None:
        self.selected.append(("token", message.msg))


def delivered_and_acked(msg: str, queue: str, consumer: str = "worker") -> list[FlowEvent]:
    return [
        Delivered(msg=msg, queue=queue, consumer=consumer),
        ConsumerState(consumer=consumer, state="working", detail=f"{msg} from {queue}"),
        Acked(msg=msg, queue=queue, consumer=consumer),
        ConsumerState(consumer=consumer, state="idle"),
    ]


def published(msg: str, key: str, queues: tuple[str, ...], exchange: str = "media_exchange") -> list[FlowEvent]:
    return [
        Published(msg=msg, exchange=exchange, routing_key=key, body={}),
        Routed(msg=msg, exchange=exchange, routing_key=key, queues=queues),
    ]
