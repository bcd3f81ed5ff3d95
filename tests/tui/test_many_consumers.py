"""Ten consumers all start and all receive: the engine's loops run on threads of their own, not on
Textual's thread-worker pool (the event loop's default executor: min(32, cores + 4) threads, six on a
two-core machine, where the seventh blocking loop would wait forever for a free thread)."""

from __future__ import annotations

from states import make_app

from core.scenario import Scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from tui.testing import outcomes, publish, settle

CONSUMERS = 10


def fanned_out() -> Scenario:
    """A fanout exchange to ten queues, each with a consumer of its own."""
    queues = tuple(QueueSpec(f"q{i}", (BindingSpec("fan"),)) for i in range(CONSUMERS))
    consumers = tuple(ConsumerSpec(f"worker{i}", (f"q{i}",)) for i in range(CONSUMERS))
    topology = Topology((ExchangeSpec("fan", "fanout"),), queues, consumers).validate()
    return Scenario("fanned", "ten consumers", topology, ())


async def test_ten_consumers_each_receive_and_ack_their_copy() -> None:
    app = make_app(fanned_out(), play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        msg = await publish(pilot, "")
        await settle(pilot)
        assert outcomes(app)[msg] == {f"q{i}": "acked" for i in range(CONSUMERS)}
