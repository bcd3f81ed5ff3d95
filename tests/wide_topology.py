"""A big topology, as issue "Your RabbitMQ as it is" describes one: 200 queues on 30 exchanges.

Shared by the layout benchmark (benchmarks/bench_layout.py) and the pilot tests of the routing lens on
a crowded screen, so both measure and test the same shape.
"""

from __future__ import annotations

from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology


def wide_topology(queues: int = 200, exchanges: int = 30, consumers: int = 12) -> Topology:
    """`queues` queues spread over `exchanges` topic exchanges (`ex00` ...), each queue `qNNN` bound
    with `<exchange>.<n>.#`; every fifth queue dead-letters to `dlx`, one exchange feeds another,
    and `consumers` consumers share the queues round-robin."""
    names = [f"ex{i:02d}" for i in range(exchanges)]
    specs = [ExchangeSpec(name, "topic") for name in names]
    if exchanges > 1:
        specs[1] = ExchangeSpec(names[1], "topic", bindings=(BindingSpec(names[0], "mirror.#"),))
    specs.append(ExchangeSpec("dlx", "fanout"))
    qs: list[QueueSpec] = []
    for i in range(queues):
        exchange = names[i % exchanges]
        bindings = (BindingSpec(exchange, f"{exchange}.{i}.#"),)
        qs.append(QueueSpec(f"q{i:03d}", bindings, dead_letter_exchange="dlx" if i % 5 == 0 else None))
    qs.append(QueueSpec("dead", (BindingSpec("dlx"),)))
    cs = [ConsumerSpec(f"worker{c:02d}", tuple(q.name for q in qs[c::consumers])) for c in range(consumers)]
    return Topology(tuple(specs), tuple(qs), tuple(cs)).validate()
