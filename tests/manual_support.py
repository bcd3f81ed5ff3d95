"""A manual consumer under the real engine, shared by the mqscope:// and RabbitMQ tests: publish one
message, wait until it is held for a decision, decide, and read the outcome from the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.engine import Engine
from core.ledger import Ledger
from core.runner import LoopRunner
from core.scenario import Scenario, parse_scenario

WAIT = 20.0  # bounds a failure only: every wait below ends on state

MANUAL = """
[[exchanges]]
name = "jobs"
type = "direct"

[[exchanges]]
name = "jobs.dlx"
type = "fanout"

[[queues]]
name = "work"
bindings = [{ exchange = "jobs", routing_key = "job" }]
dead_letter_exchange = "jobs.dlx"

[[queues]]
name = "dead"
bindings = [{ exchange = "jobs.dlx", routing_key = "" }]

[[consumers]]
name = "you"
queues = ["work"]
manual = true

[[consumers]]
name = "janitor"
queues = ["dead"]
"""


def manual_scenario() -> Scenario:
    return parse_scenario(MANUAL, "manual.toml")


class Session:
    """One engine running on a runner, its events folded into a ledger as the test waits."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ledger = Ledger(engine.topology)
        self.runner = LoopRunner(on_error=engine.report_failure)
        engine.start(self.runner, play_script=False)

    def until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            assert time.monotonic() < deadline, f"still waiting for {what}"
            self.engine.events.wait(0.05)
            self.ledger.feed_all(self.engine.events.drain())
            self.runner.raise_first_error()

    def held(self, msg: str, *, redelivered: bool = False) -> None:
        """Wait until `you` holds `msg` for a decision (and the ledger says it waits)."""
        control = self.engine.controls["you"]

        def holding() -> bool:
            record = self.ledger.records.get(msg)
            return (
                control.holding == msg
                and self.ledger.consumers["you"].state == "waiting"
                and (record is not None and record.redelivered == redelivered)
            )

        self.until(holding, f"{msg} held by 'you'")

    def close(self) -> None:
        self.runner.shutdown()
