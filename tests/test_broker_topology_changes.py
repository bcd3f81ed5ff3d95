"""Topology changes carried out through kombu on mqscope:// behave as they do on RabbitMQ."""

from __future__ import annotations

from kombu import Connection

from broker_support import Recorder, depth, fresh_url, publish
from core.broker import get_broker, name_from_url
from core.scenario import load_scenario
from core.topology import QueueSpec
from core.topology_apply import perform
from core.topology_changes import declarations, declare, delete, queue_binding


def routed_to(recorder: Recorder, count: int) -> tuple[str, ...]:
    return tuple(recorder.wait_for("routed", count)[count - 1].queues)


def test_a_scenario_built_change_by_change_routes_like_the_scenario() -> None:
    url = fresh_url()
    recorder = Recorder(url)
    with Connection(url) as conn:
        channel = conn.default_channel
        for change in declarations(load_scenario("seed").topology):
            perform(channel, change)
        broker = get_broker(name_from_url(url))
        assert sorted(broker.bindings()) == [
            ("media_exchange", "#", "audit_queue"),
            ("media_exchange", "video.#", "video_queue"),
        ]
        publish(conn, "media_exchange", "video.upload")
        assert routed_to(recorder, 1) == ("audit_queue", "video_queue")

        perform(channel, delete(queue_binding("media_exchange", "audit_queue", "#")))
        perform(channel, declare(queue_binding("media_exchange", "audit_queue", "user.*")))
        publish(conn, "media_exchange", "video.upload")
        assert routed_to(recorder, 2) == ("video_queue",)
        publish(conn, "media_exchange", "user.login")
        assert routed_to(recorder, 3) == ("audit_queue",)

        perform(channel, declare(QueueSpec("extra", max_length=1)))
        perform(channel, declare(queue_binding("media_exchange", "extra", "#")))
        publish(conn, "media_exchange", "a")
        publish(conn, "media_exchange", "b")
        assert depth(conn, "extra") == 1  # x-max-length reached the broker with the declaration
        perform(channel, delete(QueueSpec("extra")))
        assert "extra" not in broker.queues
        dropped = recorder.wait_for("dropped", 2)  # one overflowed, one went with the queue
        assert [e.reason for e in dropped][-1] == "its queue was deleted"
    recorder.unsubscribe()
