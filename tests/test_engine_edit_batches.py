"""Several changes as one edit (`Engine.change_topology_all`): all queued or none, each checked against
the ones before it; a consumer deleted and declared again in one edit runs again."""

from __future__ import annotations

import dataclasses

import pytest

from broker_support import fresh_url
from core.engine import Engine
from core.runner import LoopRunner
from core.topology import QueueSpec, TopologyError
from core.topology_changes import declare, delete, queue_binding
from topology_while_flowing import Watch, seed_without_work


def test_a_refused_change_in_an_edit_queues_none_of_it() -> None:
    engine = Engine(seed_without_work(), fresh_url())
    edit = [declare(QueueSpec("a")), declare(queue_binding("media_exchange", "nowhere", "x"))]
    with pytest.raises(TopologyError, match=r"^binding media_exchange -> nowhere \('x'\): unknown queue"):
        engine.change_topology_all(edit)
    assert engine.topology_problem(edit) is not None
    assert engine.topology_problem([declare(QueueSpec("a"))]) is None  # the first alone is fine...
    engine.change_topology(declare(QueueSpec("a", max_length=3)))  # ...and was not queued: no clash
    # Each change is checked against the ones before it in the same edit.
    assert (
        engine.topology_problem([declare(QueueSpec("b")), declare(queue_binding("media_exchange", "b"))])
        is None
    )


def test_a_consumer_deleted_and_declared_again_in_one_edit_consumes_again() -> None:
    engine = Engine(seed_without_work(), fresh_url())
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    watch = Watch(engine, runner)
    try:
        worker = engine.topology.consumer("worker")
        video = engine.topology.queue("video_queue")
        assert worker is not None and video is not None
        before = engine.change_topology_all(
            [
                delete(worker),
                delete(video),
                declare(dataclasses.replace(video, bindings=(), max_length=50)),
                declare(queue_binding("media_exchange", "video_queue", "video.#")),
                declare(worker),
            ],
            origin="test",
        )
        assert before.queue("video_queue") == video  # what the edit was checked against
        msg = engine.publish("media_exchange", "video.upload")
        watch.until(lambda e: e.kind == "acked" and e.msg == msg and e.queue == "video_queue", "the ack")
        assert engine.topology.queue("video_queue").max_length == 50  # type: ignore[union-attr]
        assert [n for n in runner.running if n.startswith("consumer:worker")] == [
            n for n in runner.running if n.startswith("consumer:worker#")
        ]
    finally:
        runner.shutdown()
