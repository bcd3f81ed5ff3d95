"""A consumer declared again with another failure policy: the next message meets the new policy.

The change retires the old loop; until it has ended it may still be subscribed, and a message
published right after the change must not reach it (it would be handled under the old policy).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from broker_support import fresh_url
from core.backends.memory import reset_memory_transport
from core.engine import Engine
from core.events import Rejected
from core.runner import LoopRunner
from core.topology_changes import declare
from topology_while_flowing import Watch, seed_without_work

ROUNDS = 6


@pytest.fixture(autouse=True)
def _clean_memory() -> Iterator[None]:
    reset_memory_transport()
    yield
    reset_memory_transport()


def test_the_message_after_a_redeclare_meets_the_new_policy() -> None:
    scenario = seed_without_work()
    engine = Engine(scenario, fresh_url())
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    watch = Watch(engine, runner)
    worker = scenario.topology.consumer("worker")
    assert worker is not None and worker.on_failure == "requeue"
    try:
        watch.until(lambda e: e.kind == "consumer_state" and getattr(e, "state", "") == "idle", "worker up")
        for n in range(ROUNDS):
            policy = "drop" if n % 2 == 0 else "dead_letter"
            engine.change_topology(declare(dataclasses.replace(worker, on_failure=policy)), origin="test")
            engine.controls["worker"].fail_next()
            msg = engine.publish("media_exchange", "user.login")  # audit_queue only: one copy
            event = watch.until(lambda e, m=msg: isinstance(e, Rejected) and e.msg == m, f"{msg} rejected")
            assert isinstance(event, Rejected)
            assert event.action == policy, f"round {n}: handled under the old policy"
    finally:
        runner.shutdown()
