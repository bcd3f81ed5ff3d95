"""Issue 13 items 1-4 and 8 on mqscope:// alone: each script gives the trace RabbitMQ 3.10.8 gave
(tests/queue_scripts.py; tests/integration/test_rabbitmq_queue_arguments.py keeps both in step),
and each declaration RabbitMQ refuses is refused in its words; what mqscope:// does not model is
refused, never ignored."""

from __future__ import annotations

from typing import Any

import pytest
from amqp.exceptions import MessageNacked
from kombu import Connection, Producer, Queue

from broker_support import Recorder, fresh_url
from core.backends import backend_for
from core.scenario import ScenarioError, parse_scenario
from queue_play import outcomes, play
from queue_scripts import QUORUM_REFUSALS, SCRIPTS


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_gives_rabbitmqs_trace(name: str) -> None:
    script, expected = SCRIPTS[name]
    assert outcomes(script, play(fresh_url(), script)) == outcomes(script, expected)


def declare_error(url: str, arguments: dict[str, Any], flags: dict[str, bool]) -> str:
    with Connection(url) as conn:
        queue = Queue("qa_refused", queue_arguments=arguments, **flags)
        with pytest.raises(Exception) as caught:
            queue(conn.channel()).declare()
        return f"{type(caught.value).__name__}: {caught.value}"


@pytest.mark.parametrize(("arguments", "flags"), QUORUM_REFUSALS)
def test_refused_declarations_in_rabbitmqs_words(arguments: dict[str, Any], flags: dict[str, bool]) -> None:
    error = declare_error(fresh_url(), arguments, flags)
    assert error.startswith("PreconditionFailed: Queue.declare: (406) PRECONDITION_FAILED - invalid ")


def test_unmodelled_argument_is_refused_not_ignored() -> None:
    error = declare_error(fresh_url(), {"x-queue-mode": "lazy"}, {})
    assert "NOT_IMPLEMENTED - mqscope:// does not model queue argument 'x-queue-mode'" in error


def test_nack_only_under_confirms_and_the_refusal_is_reported() -> None:
    url = fresh_url()
    seen = Recorder(url)
    for confirms in (False, True):
        with Connection(url, transport_options={"confirm_publish": confirms}) as conn:
            channel = conn.channel()
            Queue(f"full{confirms}", queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})(
                channel
            ).declare()
            publish = Producer(channel).publish
            if confirms:
                with pytest.raises(MessageNacked):
                    publish(b"x", routing_key=f"full{confirms}", message_id="m2")
            else:
                publish(b"x", routing_key=f"full{confirms}", message_id="m1")  # silently refused
    dropped = [(e.msg, e.reason) for e in seen.of("dropped")]
    assert dropped == [
        (m, "rejected by queue: full (x-max-length 0, x-overflow reject-publish); publisher nacked")
        for m in ("m1", "m2")
    ]


def test_expired_queue_is_reported_and_its_messages_dropped_not_dead_lettered() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        Queue("short_lived", queue_arguments={"x-expires": 50})(conn.channel()).declare()
        Producer(conn.channel()).publish(b"x", routing_key="short_lived", message_id="m1")
        seen.wait_for("dropped")
    assert [(e.msg, e.reason) for e in seen.of("dropped")] == [
        ("m1", "its queue expired unused (x-expires 50 ms) and was deleted")
    ]
    assert [e.text for e in seen.of("notice")] == [
        "queue 'short_lived' expired unused (x-expires 50 ms) and was deleted"
    ]
    assert not seen.of("dead_lettered")


def test_a_queue_with_a_consumer_never_expires() -> None:
    url = fresh_url()
    with Connection(url) as conn:
        channel = conn.channel()
        Queue("watched", queue_arguments={"x-expires": 50})(channel).declare()
        channel.basic_consume("watched", no_ack=True, callback=lambda m: None, consumer_tag="c1")
        broker = backend_for(url)
        assert broker.broker.queues["watched"].expires_at is None
        channel.basic_cancel("c1")
        assert broker.broker.queues["watched"].expires_at is not None


SCENARIO = """
[[exchanges]]
name = "jobs"
type = "direct"

[[queues]]
name = "work"
bindings = [{{ exchange = "jobs", routing_key = "job" }}]
{queue}

[[publish]]
exchange = "jobs"
routing_key = "job"
{publish}
"""


def scenario(queue: str = "", publish: str = "") -> Any:
    return parse_scenario(SCENARIO.format(queue=queue, publish=publish), "s.toml")


def test_scenario_takes_rabbitmqs_names_and_shorthands_alike() -> None:
    loaded = scenario(
        'arguments = { "x-max-priority" = 10, "x-overflow" = "reject-publish", "x-message-ttl" = 1500 }\n'
        "max_length = 3",
        'properties = { priority = 5, expiration = "500" }',
    )
    (queue,) = loaded.topology.queues
    assert queue.queue_arguments() == {
        "x-max-priority": 10,
        "x-overflow": "reject-publish",
        "x-message-ttl": 1500,
        "x-max-length": 3,
    }
    assert queue.message_ttl == 1.5
    (step,) = loaded.publishes
    assert (step.priority, step.expiration) == (5, 0.5)


QUORUM = '"x-queue-type" = "quorum"'
MISTAKES = [
    (
        'max_length = 2\narguments = { "x-max-length" = 2 }',
        "",
        "max_length and arguments 'x-max-length' are the same argument: give one",
    ),
    ('arguments = { "x-overflow" = "drop-tail" }', "", "'x-overflow': invalid value invalid_overflow"),
    ('arguments = { "x-max-priority" = 300 }', "", "invalid value {max_value_exceeded,300}"),
    (f"arguments = {{ {QUORUM} }}\ndurable = false", "", "queue 'work': invalid property 'non-durable'"),
    (
        f'arguments = {{ {QUORUM}, "x-max-priority" = 2 }}',
        "",
        "queue 'work': invalid arg 'x-max-priority' of queue type rabbit_quorum_queue",
    ),
    ("", "properties = { priority = 256 }", "properties 'priority' must be an integer between 0 and 255"),
    ("", "properties = { expiration = 500 }", "properties 'expiration' must be milliseconds as a string"),
    (
        "",
        'expiration = 1.0\nproperties = { expiration = "500" }',
        "expiration and properties 'expiration' are the same property",
    ),
    ("", 'properties = { user_id = "x" }', "properties: unknown property 'user_id'"),
]


@pytest.mark.parametrize(("queue", "publish", "error"), MISTAKES)
def test_scenario_mistakes_in_one_line(queue: str, publish: str, error: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario(queue, publish)
    assert error in str(caught.value) and "\n" not in str(caught.value)


def test_unmodelled_argument_in_a_scenario_is_refused_on_mqscope_only() -> None:
    loaded = scenario('arguments = { "x-queue-mode" = "lazy" }')
    assert backend_for(fresh_url()).unsupported(loaded.topology) == (
        "queue 'work': mqscope:// does not model queue argument 'x-queue-mode' "
        "(run it on RabbitMQ with --broker amqp://...)"
    )
    assert backend_for("amqp://guest:guest@127.0.0.1:1//").unsupported(loaded.topology) is None


def test_reject_publish_refuses_even_with_a_consumer_waiting_drop_head_delivers() -> None:
    """RabbitMQ checks reject-publish before delivering (x-max-length 0 refuses every publish, a
    consumer waiting or not); drop-head delivers first, then trims (measured on 3.10.8)."""
    url = fresh_url()
    got: list[bytes] = []
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        for mode in ("reject-publish", "drop-head"):
            Queue(mode, queue_arguments={"x-max-length": 0, "x-overflow": mode})(channel).declare()
            channel.basic_consume(mode, no_ack=True, callback=lambda m: got.append(m.body), consumer_tag=mode)
        producer = Producer(channel)
        with pytest.raises(MessageNacked):
            producer.publish(b"refused", routing_key="reject-publish")
        producer.publish(b"delivered", routing_key="drop-head")
        conn.drain_events(timeout=1)
    assert got == [b"delivered"]


def test_headless_refuses_an_unmodelled_argument_in_one_line(tmp_path: Any) -> None:
    import subprocess
    import sys

    path = tmp_path / "lazy.toml"
    path.write_text(SCENARIO.format(queue='arguments = { "x-queue-mode" = "lazy" }', publish=""))
    result = subprocess.run(
        [sys.executable, "-m", "tui", "--headless", "--scenario", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1
    assert "mqscope:// does not model queue argument 'x-queue-mode'" in result.stderr
