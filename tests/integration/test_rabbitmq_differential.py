"""The same scenarios on the in-process broker and on a real RabbitMQ: same routing, same outcome.

Routing on RabbitMQ is judged by what RabbitMQ really did (which queues held or delivered each message,
what it returned), never by mqscope's own prediction of it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from engine_runner import EngineRun, Run, reset_rabbit, run_scenario
from kombu import Connection
from rabbit_support import RabbitBroker

from broker_support import exchange_binding_walk
from conformance_cases import all_cases, load_cases
from core.engine import Engine
from core.events import Acked, ConsumerState, DeadLettered, Delivered, Published, Rejected, Returned, Routed
from core.scenario import Scenario, load_scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology

pytestmark = pytest.mark.rabbitmq


def fresh_inprocess() -> str:
    """An in-process broker of its own (brokers are per name), so runs never share state."""
    return f"mqscope://diff{uuid.uuid4().hex[:10]}"


def signature(run: Run) -> list[tuple[Any, ...]]:
    """Per message, in publish order: key, queues it reached, each copy's outcome, redelivery flags."""
    routed = run.routed()
    outcomes = run.outcomes()
    flags: dict[str, list[tuple[str, bool]]] = {}
    for d in run.of(Delivered):
        flags.setdefault(d.msg, []).append((d.queue, d.redelivered))
    return [
        (
            p.routing_key,
            routed.get(p.msg),
            sorted(_same_nowhere(outcomes.get(p.msg, {})).items()),
            sorted(flags.get(p.msg, [])),
        )
        for p in run.of(Published)
    ]


def _same_nowhere(outcomes: dict[str, str]) -> dict[str, str]:
    """mqscope publishes mandatory on RabbitMQ (to learn of it): "returned" there is "unroutable"."""
    return {q: "unroutable" if o == "returned" else o for q, o in outcomes.items()}


def both(
    rabbit: RabbitBroker,
    scenario: Scenario,
    publishes: list[tuple[str, str, Any, dict[str, Any]]],
    **kwargs: Any,
) -> tuple[Run, Run]:
    reset_rabbit(rabbit.url, scenario.topology)
    local = run_scenario(scenario, fresh_inprocess(), publishes, **kwargs)
    real = run_scenario(scenario, rabbit.url, publishes, **kwargs)
    return local, real


def scenario_of(name: str, topology: Topology) -> Scenario:
    return Scenario(name=name, title=name, topology=topology.validate(), publishes=())


# -- routing: RabbitMQ's own topic test cases ---------------------------------------------------
def conformance_groups() -> list[tuple[str, list[tuple[str, str]], list[tuple[str, list[str]]]]]:
    data = load_cases()
    groups: dict[str, tuple[str, list[tuple[str, str]], list[tuple[str, list[str]]]]] = {}
    for name, bindings, key, expected in all_cases(data):
        if any(k.split(".").count("#") > MAX_HASHES_ON_310 for k, _ in bindings):
            continue
        ident = json.dumps(bindings)
        groups.setdefault(ident, (name, bindings, []))[2].append((key, expected))
    return list(groups.values())


MAX_HASHES_ON_310 = 3
"""RabbitMQ 3.10 accepts `#.#.#.#...` keys but matches them by backtracking, exponential in the
number of `#` words (why main now refuses more than two): `topic_match_many_hashes` (15 of them
against a 31-word key) does not finish there, so it runs on the in-process broker only."""

GROUPS = conformance_groups()
SENTINEL = "conf_sentinel"


def conformance_topology(bindings: list[tuple[str, str]], queues: set[str]) -> Topology:
    by_queue: dict[str, list[str]] = {q: [] for q in sorted(queues)}
    for key, queue in bindings:
        if key not in by_queue[queue]:
            by_queue[queue].append(key)
    specs = [
        QueueSpec(f"conf_{q}", tuple(BindingSpec("conf_topic", k) for k in keys))
        for q, keys in by_queue.items()
    ]
    return Topology(exchanges=(ExchangeSpec("conf_topic", "topic"),), queues=(*specs, QueueSpec(SENTINEL)))


def rabbit_routing(url: str, topology: Topology, keys: list[str]) -> tuple[list[tuple[str, ...]], set[int]]:
    """Publish every key through the engine, then read back which queues RabbitMQ put each one in."""
    reset_rabbit(url, topology)
    engine = Engine(scenario_of("conformance", topology), url)
    requests = [engine.make_request("conf_topic", k, {"n": n}) for n, k in enumerate(keys)]
    sentinel = engine.make_request("", SENTINEL, {"sentinel": True})
    with EngineRun(engine) as running:
        running.enqueue([*requests, sentinel])
        # Publishes on one channel are routed in order: once the sentinel is queued, all are.
        assert running.wait_for(lambda r: engine.declared.is_set(), 30), "never declared"
        assert running.wait_for(lambda r: _queued(url, SENTINEL) > 0, 30), "sentinel never arrived"
        running.wait_for(lambda r: False, 0.2)
    where: dict[str, list[str]] = {r.msg: [] for r in requests}
    with Connection(url) as conn:
        channel = conn.channel()
        for spec in topology.queues:
            while (message := channel.basic_get(spec.name, no_ack=True)) is not None:
                msg = message.properties.get("message_id")
                if msg in where:
                    where[msg].append(spec.name.removeprefix("conf_"))
    returned = {i for i, r in enumerate(requests) if any(e.msg == r.msg for e in running.run.of(Returned))}
    return [tuple(sorted(where[r.msg])) for r in requests], returned


def _delivered_from(run: Run, queue: str) -> int:
    return sum(1 for d in run.of(Delivered) if d.queue == queue)


def _acked_from(run: Run, queue: str) -> int:
    """Copies acked from `queue`: waiting for these (not deliveries) leaves no ack racing the end."""
    return sum(1 for a in run.of(Acked) if a.queue == queue)


def _queued(url: str, queue: str) -> int:
    with Connection(url) as conn:
        _name, ready, _consumers = conn.channel().queue_declare(queue=queue, passive=True)
        return int(ready)


def inprocess_routing(topology: Topology, keys: list[str]) -> list[tuple[str, ...]]:
    engine = Engine(scenario_of("conformance", topology), fresh_inprocess())
    requests = [engine.make_request("conf_topic", k, {"n": n}) for n, k in enumerate(keys)]
    with EngineRun(engine) as running:
        running.enqueue(requests)
        assert running.wait_for(lambda r: len(r.routed()) >= len(requests), 30)
    routed = running.run.routed()
    return [tuple(q.removeprefix("conf_") for q in routed[r.msg]) for r in requests]


@pytest.mark.parametrize("group", GROUPS, ids=[f"{g[0]}:{len(g[2])}" for g in GROUPS])
def test_conformance_routing_matches(
    rabbit: RabbitBroker, group: tuple[str, list[tuple[str, str]], list[tuple[str, list[str]]]]
) -> None:
    _name, bindings, cases = group
    queues = {q for _, q in bindings} | {q for _, expected in cases for q in expected}
    topology = conformance_topology(bindings, queues)
    keys = [key for key, _ in cases]
    expected = [tuple(sorted(e)) for _, e in cases]
    real, returned = rabbit_routing(rabbit.url, topology, keys)
    local = inprocess_routing(topology, keys)
    assert real == expected, "RabbitMQ disagrees with its own test data (topology not as intended?)"
    assert local == real
    assert returned == {i for i, e in enumerate(expected) if not e}, "basic.return for unroutable only"


# -- behaviour: same outcome for every message ----------------------------------------------------
def test_seed_scenario_same_on_both(rabbit: RabbitBroker) -> None:
    scenario = load_scenario("seed")
    reset_rabbit(rabbit.url, scenario.topology)
    publishes = [("media_exchange", k, {"k": k}, {}) for k in ("video.upload", "user.login", "video")]
    local, real = both(rabbit, scenario, publishes)
    assert signature(local) == signature(real)
    assert [s[1] for s in signature(real)] == [
        ("audit_queue", "video_queue"),
        ("audit_queue",),
        ("audit_queue", "video_queue"),
    ]
    # Real deliveries, not the prediction: RabbitMQ delivered from exactly the predicted queues.
    delivered = {(d.msg, d.queue) for d in real.of(Delivered)}
    assert delivered == {(m, q) for m, qs in real.routed().items() for q in qs}


def worker_topology(prefix: str, on_failure: str, work: float = 0.0) -> Topology:
    return Topology(
        exchanges=(ExchangeSpec(f"{prefix}_ex", "direct"), ExchangeSpec(f"{prefix}_dlx", "fanout")),
        queues=(
            QueueSpec(
                f"{prefix}_q", (BindingSpec(f"{prefix}_ex", "job"),), dead_letter_exchange=f"{prefix}_dlx"
            ),
            QueueSpec(f"{prefix}_dead", (BindingSpec(f"{prefix}_dlx", ""),)),
        ),
        consumers=(
            ConsumerSpec("worker", (f"{prefix}_q",), prefetch=1, work_seconds=work, on_failure=on_failure),  # type: ignore[arg-type]
            ConsumerSpec("janitor", (f"{prefix}_dead",), prefetch=5),
        ),
    )


def test_requeue_same_on_both(rabbit: RabbitBroker) -> None:
    scenario = scenario_of("requeue", worker_topology("rq", "requeue"))
    publishes = [("rq_ex", "job", {"fail": 2, "n": 1}, {}), ("rq_ex", "job", {"n": 2}, {})]
    local, real = both(rabbit, scenario, publishes)
    assert signature(local) == signature(real)
    first = signature(real)[0]
    assert first[2] == [("rq_q", "acked")]
    assert first[3] == [("rq_q", False), ("rq_q", True), ("rq_q", True)]  # two requeues, redelivered
    assert [r.action for r in real.of(Rejected)] == ["requeue", "requeue"]


def test_dead_letter_and_unroutable_same_on_both(rabbit: RabbitBroker) -> None:
    scenario = load_scenario("dead_letter")
    publishes = [
        ("orders", "order.created", {"order": 1}, {}),
        ("orders", "order.created", {"order": 2, "fail": True}, {}),
        ("orders", "order.cancelled", {"order": 3}, {}),
    ]
    local, real = both(rabbit, scenario, publishes, until=lambda r: _acked_from(r, "orders_dead") == 1)
    assert signature(local) == signature(real)
    outcomes = [s[2] for s in signature(real)]
    assert outcomes == [
        [("orders_queue", "acked")],
        [("orders_queue", "dead-lettered (rejected)")],
        [("-", "unroutable")],
    ]
    assert [e.routing_key for e in real.of(Returned)] == ["order.cancelled"]
    dead = [d for d in real.of(Delivered) if d.queue == "orders_dead"]
    assert len(dead) == 1, "RabbitMQ delivered the dead-lettered copy to the DLX queue"


def test_ttl_expiry_same_on_both(rabbit: RabbitBroker) -> None:
    topology = Topology(
        exchanges=(ExchangeSpec("ttl_ex", "direct"), ExchangeSpec("ttl_dlx", "fanout")),
        queues=(
            QueueSpec(
                "ttl_q", (BindingSpec("ttl_ex", "job"),), dead_letter_exchange="ttl_dlx", message_ttl=0.2
            ),
            QueueSpec("ttl_dead", (BindingSpec("ttl_dlx", ""),)),
        ),
        consumers=(ConsumerSpec("janitor", ("ttl_dead",), prefetch=5),),  # nobody reads ttl_q
    )
    scenario = scenario_of("ttl", topology)
    publishes = [("ttl_ex", "job", {"n": n}, {}) for n in range(3)]
    local, real = both(rabbit, scenario, publishes, until=lambda r: _acked_from(r, "ttl_dead") == 3)
    assert signature(local) == signature(real)
    assert all(s[2] == [("ttl_q", "expired")] for s in signature(real))
    for run in (local, real):  # and both say where the expired copies went
        assert sorted((e.queue, e.reason) for e in run.of(DeadLettered)) == [("ttl_q", "expired")] * 3


def test_crash_redelivery_same_on_both(rabbit: RabbitBroker) -> None:
    topology = worker_topology("cr", "requeue", work=4.0)  # 1 s at speed 4: the crash lands mid-work
    scenario = scenario_of("crash", topology)
    runs = []
    reset_rabbit(rabbit.url, topology)
    for url in (fresh_inprocess(), rabbit.url):
        engine = Engine(scenario, url, speed=4.0)
        request = engine.make_request("cr_ex", "job", {"n": 1})
        with EngineRun(engine) as running:
            running.enqueue([request])
            assert running.wait_for(lambda r: bool(r.of(Delivered)), 30)
            engine.controls["worker"].crash()
            runs.append(running.settle(1, 60))
    local, real = runs
    assert signature(local) == signature(real)
    assert signature(real)[0][3] == [("cr_q", False), ("cr_q", True)]


def test_max_length_reaches_rabbitmq(rabbit: RabbitBroker) -> None:
    """x-max-length and the DLX go through queue arguments: RabbitMQ drops the oldest into the DLX."""
    topology = Topology(
        exchanges=(ExchangeSpec("ml_ex", "direct"), ExchangeSpec("ml_dlx", "fanout")),
        queues=(
            QueueSpec("ml_q", (BindingSpec("ml_ex", "job"),), dead_letter_exchange="ml_dlx", max_length=1),
            QueueSpec("ml_dead", (BindingSpec("ml_dlx", ""),)),
        ),
        consumers=(ConsumerSpec("janitor", ("ml_dead",), prefetch=5),),
    )
    scenario = scenario_of("maxlen", topology)
    reset_rabbit(rabbit.url, topology)
    engine = Engine(scenario, rabbit.url)
    requests = [engine.make_request("ml_ex", "job", {"n": n}) for n in range(3)]
    with EngineRun(engine) as running:
        running.enqueue(requests)
        assert running.wait_for(
            lambda r: sum(1 for m in r.outcomes().values() if m.get("ml_q") == "dead-lettered (maxlen)") == 2,
            30,
        ), running.run.outcomes()
    assert _queued(rabbit.url, "ml_q") == 1  # the newest stays


def test_non_json_body_is_rejected_unread(rabbit: RabbitBroker, tmp_path: Any) -> None:
    """A pickle that would create a file when loaded arrives on RabbitMQ: refused, never unpickled."""
    import pickle

    canary = tmp_path / "unpickled"

    class Bomb:
        def __reduce__(self) -> tuple[Any, ...]:
            return (canary.touch, ())

    topology = worker_topology("nj", "requeue")
    scenario = scenario_of("nonjson", topology)
    reset_rabbit(rabbit.url, topology)
    engine = Engine(scenario, rabbit.url)
    with EngineRun(engine) as running:
        assert running.wait_for(lambda r: engine.declared.is_set(), 30)
        with Connection(rabbit.url) as conn:
            import amqp

            message = amqp.Message(
                pickle.dumps(Bomb()), content_type="application/x-python-serialize", message_id="pickled"
            )
            conn.channel().basic_publish(message, exchange="nj_ex", routing_key="job")
        assert running.wait_for(lambda r: any(e.msg == "pickled" for e in r.of(Rejected)), 30)
    rejected = [e for e in running.run.of(Rejected) if e.msg == "pickled"]
    assert rejected[0].action == "drop" and "only JSON" in rejected[0].error
    assert not canary.exists(), "the pickle was deserialized"
    assert _queued(rabbit.url, "nj_q") == 0


def test_routed_event_comes_before_delivery_on_rabbitmq(rabbit: RabbitBroker) -> None:
    """With work 0 a delivery can beat the confirm: the prediction is emitted first, so it settles."""
    scenario = scenario_of("fast", worker_topology("fa", "requeue"))
    reset_rabbit(rabbit.url, scenario.topology)
    run = run_scenario(scenario, rabbit.url, [("fa_ex", "job", {"n": n}, {}) for n in range(50)])
    for msg in run.routed():
        kinds = [type(e) for e in run.events if e.msg == msg]
        assert kinds.index(Routed) < kinds.index(Delivered)


def test_exchange_to_exchange_routing_same_on_both(rabbit: RabbitBroker) -> None:
    """Exchange bindings, a loop, alternates reached through them, unbind and delete: as RabbitMQ."""
    assert exchange_binding_walk(fresh_inprocess()) == exchange_binding_walk(rabbit.url)


# -- issue 13: exchange-to-exchange bindings, single active consumer, consumer priorities ---------
LINKED = Topology(
    exchanges=(
        ExchangeSpec("dl_upstream", "topic"),
        ExchangeSpec(
            "dl_orders",
            "topic",
            bindings=(BindingSpec("dl_upstream", "order.#"), BindingSpec("dl_upstream", "*.new")),
        ),
    ),
    queues=(
        QueueSpec(
            "dl_one_at_a_time",
            (BindingSpec("dl_orders", "#"), BindingSpec("dl_upstream", "*.new")),
            arguments={"x-single-active-consumer": True},
        ),
        QueueSpec("dl_ranked", (BindingSpec("dl_orders", "order.paid"),)),
    ),
    consumers=(
        ConsumerSpec("dl_first", ("dl_one_at_a_time",), prefetch=2),
        ConsumerSpec("dl_second", ("dl_one_at_a_time",), prefetch=2),
        ConsumerSpec("dl_low", ("dl_ranked",), prefetch=1, work_seconds=2.0),
        ConsumerSpec("dl_high", ("dl_ranked",), prefetch=1, work_seconds=2.0, arguments={"x-priority": 9}),
    ),
)


def test_exchange_bindings_and_consumer_arguments_from_a_scenario_same_on_both(rabbit: RabbitBroker) -> None:
    """The scenario's exchange bindings, x-single-active-consumer and x-priority reach RabbitMQ as
    declared by the engine: each message reaches each queue once by however many paths, the single
    active queue delivers to one consumer only, and the idle high-priority consumer is chosen."""
    scenario = scenario_of("linked", LINKED)
    publishes = [
        ("dl_upstream", "order.new", {"n": 1}, {}),  # three paths to dl_one_at_a_time: one copy
        ("dl_upstream", "order.paid", {"n": 2}, {}),
        ("dl_upstream", "user.new", {"n": 3}, {}),  # only the direct binding
        ("dl_upstream", "user.gone", {"n": 4}, {}),  # nowhere
    ]
    reset_rabbit(rabbit.url, LINKED)
    names = {c.name for c in LINKED.consumers}
    runs = []
    for url in (fresh_inprocess(), rabbit.url):
        engine = Engine(scenario, url, speed=4.0)
        requests = [engine.make_request(ex, key, body, headers) for ex, key, body, headers in publishes]
        with EngineRun(engine) as running:
            # Every consumer subscribed (idle) first: which one a message finds waiting is the point.
            assert running.wait_for(
                lambda r: {e.consumer for e in r.of(ConsumerState) if e.state == "idle"} >= names, 30
            )
            running.enqueue(requests)
            runs.append(running.settle(len(requests), 60))
    local, real = runs
    assert signature(local) == signature(real)
    assert [s[1] for s in signature(real)] == [
        ("dl_one_at_a_time",),
        ("dl_one_at_a_time", "dl_ranked"),
        ("dl_one_at_a_time",),
        (),
    ]
    for run in (local, real):
        by_queue = {(d.queue, d.consumer) for d in run.of(Delivered)}
        single = {c for q, c in by_queue if q == "dl_one_at_a_time"}
        assert len(single) == 1, by_queue  # which one subscribed first is the engine's start order
        assert {c for q, c in by_queue if q == "dl_ranked"} == {"dl_high"}
