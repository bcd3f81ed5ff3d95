"""Producers with a rate on a real RabbitMQ: the engine's producer loop publishes at its rate through
the amqp backend, and every message it offered is routed and settled by the scenario's worker."""

from __future__ import annotations

import time

import pytest
from engine_runner import reset_rabbit

from core.engine import Engine
from core.events import Delivered
from core.ledger import Ledger
from core.runner import LoopRunner
from core.scenario import parse_scenario

pytestmark = pytest.mark.rabbitmq

WAIT = 30.0  # bounds a failure only: every wait below ends on state

PRODUCED = """
[[exchanges]]
name = "produced.jobs"
type = "direct"

[[queues]]
name = "produced.work"
bindings = [{ exchange = "produced.jobs", routing_key = "job" }]

[[consumers]]
name = "worker"
queues = ["produced.work"]
prefetch = 10

[[producers]]
name = "steady"
exchange = "produced.jobs"
rate = 50
keys = ["job", "nowhere"]
bodies = [{ n = 1 }, "two"]
"""


def test_a_producer_at_a_rate_publishes_and_every_message_settles_on_rabbitmq(amqp_url: str) -> None:
    scenario = parse_scenario(PRODUCED, "produced.toml")
    reset_rabbit(amqp_url, scenario.topology)
    engine = Engine(scenario, amqp_url)
    ledger = Ledger(engine.topology)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner)

    def until(done: object, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done():  # type: ignore[operator]
            assert time.monotonic() < deadline, f"still waiting for {what}"
            engine.events.wait(0.05)
            ledger.feed_all(engine.events.drain())
            runner.raise_first_error()

    def published() -> list[str]:
        return [m for m, r in ledger.records.items() if r.published]

    try:
        control = engine.producers.control("steady")
        assert control is not None
        until(lambda: len(published()) >= 40, "40 messages from the producer")
        assert control.toggle_pause()  # paused: it offers no more
        until(lambda: ledger.all_settled and control.sent == len(published()), "every message settled")
        fates = [ledger.fate(m) for m in published()]
        # keys taken in turn: `job` reaches the worker's queue and is acked; `nowhere` routes nowhere.
        # Which of the two words the ledger keeps for the latter depends on whether the amqp backend's
        # return or its routing report is folded first (seen both in one run; left as found).
        assert fates.count({"produced.work": "acked"}) >= 20
        unroutable = ({"-": "unroutable"}, {"-": "returned"})
        assert all(f == {"produced.work": "acked"} or f in unroutable for f in fates), set(map(str, fates))
        assert len(fates) - fates.count({"produced.work": "acked"}) >= 19
    finally:
        runner.shutdown()
        reset_rabbit(amqp_url, scenario.topology)


HEADERS_PRODUCED = """
[[exchanges]]
name = "produced.documents"
type = "headers"

[[queues]]
name = "produced.pdf_reports"
bindings = [
  { exchange = "produced.documents", arguments = { "x-match" = "all", format = "pdf", type = "report" } },
]

[[queues]]
name = "produced.logs"
bindings = [{ exchange = "produced.documents", arguments = { "x-match" = "any", type = "log" } }]

[[consumers]]
name = "reader"
queues = ["produced.pdf_reports", "produced.logs"]
prefetch = 10

[[producers]]
name = "reports"
exchange = "produced.documents"
rate = 50
headers = { format = "pdf", type = "report", pages = 3 }
"""


def test_a_producers_headers_reach_rabbitmq_and_its_headers_exchange_routes_by_them(amqp_url: str) -> None:
    scenario = parse_scenario(HEADERS_PRODUCED, "headers_produced.toml")
    reset_rabbit(amqp_url, scenario.topology)
    engine = Engine(scenario, amqp_url)
    ledger = Ledger(engine.topology)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner)
    delivered: list[Delivered] = []

    def until(done: object, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done():  # type: ignore[operator]
            assert time.monotonic() < deadline, f"still waiting for {what}"
            engine.events.wait(0.05)
            events = engine.events.drain()
            delivered.extend(e for e in events if isinstance(e, Delivered))
            ledger.feed_all(events)
            runner.raise_first_error()

    try:
        control = engine.producers.control("reports")
        assert control is not None
        until(lambda: ledger.published >= 10, "10 messages from the producer")
        assert control.toggle_pause()
        until(lambda: ledger.all_settled and control.sent == ledger.published, "every message settled")
        assert len(delivered) == ledger.published  # one copy each: `any` of type=log does not match
        assert {d.queue for d in delivered} == {"produced.pdf_reports"}
        assert all(dict(d.headers) == {"format": "pdf", "type": "report", "pages": 3} for d in delivered)
    finally:
        runner.shutdown()
        reset_rabbit(amqp_url, scenario.topology)
