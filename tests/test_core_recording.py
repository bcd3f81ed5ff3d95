"""Record and replay: every event kind back from its JSON (hypothesis), a headless session on
mqscope:// with dead-lettering and topology edits recorded and replayed into the same events, and
bad recordings (corrupt and torn lines skipped with their line numbers, headers refused)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.event_json import EVENT_CLASSES, EventJsonError, UnknownEvent, event_from_json
from core.events import (
    Acked,
    BrokerStatus,
    ConsumerState,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    InternalError,
    Notice,
    Published,
    QueueDepth,
    Rejected,
    Requeued,
    Returned,
    Routed,
    ScriptEnded,
    ScriptOutput,
    TopologyChanged,
)
from core.recording import Recorder, Recording, RecordingError, header
from core.replay import ReplayEngine, run_replay_headless
from core.routing import Binding
from core.scenario import load_scenario
from core.text import json_line
from core.topology import ConsumerSpec, ExchangeSpec, QueueSpec
from core.topology_changes import TopologyChange, declare
from recording_support import record_dead_letter

# -- every event kind back from its JSON ---------------------------------------------------------
names = st.text(max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | names
json_scalars |= st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
bodies = json_values | names | st.integers(0, 10**6).map(lambda n: f"<{n} bytes of application/octet-stream>")
tables = st.dictionaries(names, json_values, max_size=3)
msgs = st.none() | st.text("0123456789abcdef", min_size=8, max_size=8)
times = st.floats(min_value=0, max_value=1e9, allow_nan=False)
key_tuples = st.lists(names, max_size=3).map(tuple)

exchanges = st.builds(
    ExchangeSpec,
    name=names,
    type=st.sampled_from(["direct", "fanout", "topic", "headers"]),
    durable=st.booleans(),
    alternate_exchange=st.none() | names.filter(bool),  # to_json writes "" as no alternate at all
)
queue_arguments = st.dictionaries(
    st.sampled_from(
        ["x-max-priority", "x-overflow", "x-queue-type", "x-expires", "x-single-active-consumer"]
    ),
    json_scalars,
    max_size=2,
)
queues = st.builds(
    QueueSpec,
    name=names,
    dead_letter_exchange=st.none() | names,
    dead_letter_routing_key=st.none() | names,
    message_ttl=st.none() | st.integers(0, 2**32 - 1).map(lambda ms: ms / 1000),
    max_length=st.none() | st.integers(0, 10**6),
    durable=st.booleans(),
    arguments=queue_arguments,
)
bindings = st.builds(
    Binding,
    source=names,
    destination=names,
    destination_kind=st.sampled_from(["queue", "exchange"]),
    routing_key=names,
    arguments=tables,
)
consumers = st.builds(
    ConsumerSpec,
    name=names,
    queues=key_tuples,
    prefetch=st.integers(0, 65535),
    work_seconds=st.floats(0, 86400),
    on_failure=st.sampled_from(["requeue", "dead_letter", "drop"]),
    arguments=tables,
    manual=st.booleans(),
)
changes = st.builds(
    TopologyChange,
    op=st.sampled_from(["declare", "delete"]),
    entity=exchanges | queues | bindings | consumers,
)

common = {"msg": msgs, "ts": times}
EVENTS: dict[type[FlowEvent], st.SearchStrategy[FlowEvent]] = {
    Published: st.builds(Published, exchange=names, routing_key=names, body=bodies, headers=tables, **common),
    Routed: st.builds(
        Routed,
        exchange=names,
        routing_key=names,
        queues=key_tuples,
        source=st.sampled_from(["broker", "transport", "predicted"]),
        via_alternate=st.none() | names,
        rabbitmq_queues=st.none() | key_tuples,
        **common,
    ),
    Delivered: st.builds(
        Delivered,
        queue=names,
        consumer=names,
        redelivered=st.booleans(),
        headers=tables,
        properties=tables,
        **common,
    ),
    Acked: st.builds(Acked, queue=names, consumer=names, **common),
    Rejected: st.builds(Rejected, queue=names, consumer=names, action=names, error=names, **common),
    Requeued: st.builds(Requeued, queue=names, reason=names, **common),
    DeadLettered: st.builds(
        DeadLettered,
        queue=names,
        reason=names,
        exchange=names,
        routing_key=names,
        queues=key_tuples,
        **common,
    ),
    Dropped: st.builds(Dropped, queue=names, reason=names, **common),
    Expired: st.builds(Expired, queue=names, **common),
    Returned: st.builds(Returned, exchange=names, routing_key=names, reason=names, **common),
    ConsumerState: st.builds(ConsumerState, consumer=names, state=names, detail=names, **common),
    QueueDepth: st.builds(QueueDepth, queue=names, ready=st.integers(0), unacked=st.integers(0), **common),
    BrokerStatus: st.builds(
        BrokerStatus, broker=names, state=names, faithful=st.booleans(), detail=names, **common
    ),
    Notice: st.builds(Notice, level=st.sampled_from(["info", "warning", "error"]), text=names, **common),
    TopologyChanged: st.builds(TopologyChanged, change=changes, origin=names, ts=times),
    ScriptOutput: st.builds(ScriptOutput, stream=st.sampled_from(["stdout", "stderr"]), text=names, **common),
    ScriptEnded: st.builds(
        ScriptEnded, script=names, exit_code=st.integers(-255, 255), error=names, traceback=names, **common
    ),
    InternalError: st.builds(InternalError, where=names, error=names, traceback=names, **common),
}


def test_the_strategies_cover_every_event_kind() -> None:
    """A new FlowEvent class must be in event_json's table (or a replay skips it as unknown)."""

    def kinds(cls: type[FlowEvent]) -> set[str]:
        return {k for sub in cls.__subclasses__() for k in {sub.kind, *kinds(sub)}}

    assert {cls.kind for cls in EVENTS} == set(EVENT_CLASSES) == kinds(FlowEvent)


@settings(max_examples=400, deadline=None)
@given(st.one_of(*EVENTS.values()))
def test_every_event_comes_back_from_its_json_line(event: FlowEvent) -> None:
    line = json_line(event.to_json())  # what --record writes
    again = event_from_json(json.loads(line))
    assert again == event
    assert json_line(again.to_json()) == line


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([1, 2], "not an event object but a JSON array"),
        ({"msg": "a"}, "no 'event' word"),
        ({"event": "acked", "msg": "a", "queue": "q"}, "event 'acked': missing field 'consumer'"),
        ({"event": "acked", "msg": 3, "queue": "q", "consumer": "c"}, "'msg' must be a string or null"),
        (
            {"event": "routed", "msg": "a", "exchange": "x", "routing_key": "k", "queues": "q"},
            "list of strings",
        ),
        ({"event": "queue_depth", "queue": "q", "ready": True, "unacked": 0}, "'ready' must be an integer"),
        (
            {"event": "topology", "op": "rename", "kind": "queue", "name": "q"},
            "'op' must be declare or delete",
        ),
        ({"event": "topology", "op": "declare", "kind": "vhost", "name": "v"}, "unknown kind 'vhost'"),
        ({"event": "topology", "op": "declare", "kind": "queue"}, "topology queue: no 'name'"),
    ],
)
def test_what_is_not_an_event_says_why_in_one_line(obj: Any, reason: str) -> None:
    with pytest.raises(EventJsonError) as caught:
        event_from_json(obj)
    assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_an_unknown_event_kind_is_told_apart_and_new_fields_are_ignored() -> None:
    with pytest.raises(UnknownEvent, match="newer mqscope"):
        event_from_json({"event": "firehose_trace", "msg": "a"})
    acked = event_from_json({"event": "acked", "msg": "a", "queue": "q", "consumer": "c", "new": 1})
    assert acked == Acked(msg="a", queue="q", consumer="c", ts=acked.ts)


# -- a session recorded, then replayed ----------------------------------------------------------
def _without_ts(lines: str) -> list[dict[str, Any]]:
    out = []
    for line in lines.splitlines():
        obj = json.loads(line)
        obj.pop("ts")
        out.append(obj)
    return out


def test_a_headless_session_replays_as_the_same_events_in_the_same_order(tmp_path: Path) -> None:
    path = tmp_path / "dead_letter.jsonl"
    live = _without_ts(record_dead_letter(path))
    kinds = {e["event"] for e in live}
    assert {"dead_lettered", "expired", "rejected", "topology"} <= kinds
    origins = [(e["op"], e["kind"], e["origin"]) for e in live if e["event"] == "topology"]
    assert ("declare", "exchange", "app") in origins and ("delete", "binding", "app") in origins

    recording = Recording(str(path))
    assert recording.header.scenario == "dead_letter"
    assert recording.header.broker == "mqscope://localhost"
    replayed = io.StringIO()
    assert run_replay_headless(ReplayEngine(recording, speed=4.0, announce_end=False), True, replayed) == 0
    assert _without_ts(replayed.getvalue()) == live


def test_a_replay_refuses_publishes_and_edits_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json_line(header(broker="b", scenario="s", title="t", topology=_seed(), mode="scenario")))
    engine = ReplayEngine(Recording(str(path)))
    assert engine.topology == _seed()  # the header's topology: views start from it
    from core.engine import PublishError
    from core.topology import TopologyError

    with pytest.raises(PublishError, match=r"^a replay publishes and changes nothing: it plays .*r\.jsonl"):
        engine.publish("media_exchange", "video.upload")
    with pytest.raises(TopologyError, match="a replay publishes and changes nothing"):
        engine.change_topology(declare(ExchangeSpec("x")))
    assert engine.topology_problem([declare(ExchangeSpec("x"))]) == engine.refusal


def _seed() -> Any:
    return load_scenario("seed").topology


# -- bad recordings -------------------------------------------------------------------------------
def _replay_lines(path: Path) -> list[str]:
    out = io.StringIO()
    assert (
        run_replay_headless(ReplayEngine(Recording(str(path)), speed=4.0, announce_end=False), False, out)
        == 0
    )
    return out.getvalue().splitlines()


def test_a_time_of_infinity_is_a_skipped_line_not_a_replay_that_waits_for_ever(tmp_path: Path) -> None:
    path = tmp_path / "infinite.jsonl"
    head = json_line(header(broker="b", scenario="s", title="t", topology=_seed(), mode="scenario"))
    acked = Acked(msg="00000001", queue="video_queue", consumer="worker").to_json()
    forever = json_line({**acked, "msg": "00000002", "ts": 1.0}).replace('"ts": 1.0', '"ts": Infinity')
    path.write_text("\n".join([head, forever, json_line({**acked, "ts": 2.0})]) + "\n")
    assert _replay_lines(path) == [
        f"WARNING: {path} line 2: not JSON (Infinity is not a JSON number); skipped",
        "ACKNOWLEDGED [00000001] from video_queue by worker",
    ]


def test_corrupt_truncated_and_unknown_lines_are_skipped_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    head = json_line(header(broker="b", scenario="s", title="t", topology=_seed(), mode="scenario"))
    good = json_line(Acked(msg="00000001", queue="video_queue", consumer="worker").to_json())
    parts = [head, good, "{not json", '{"event": "teleported", "msg": "x"}']
    path.write_bytes(
        b"\n".join([*(p.encode() for p in parts), b"\xff\xfe", good.encode(), good[:20].encode()])
    )
    lines = _replay_lines(path)
    name = str(path)
    assert lines == [
        "ACKNOWLEDGED [00000001] from video_queue by worker",
        f"WARNING: {name} line 3: not JSON (Expecting property name enclosed in double quotes "
        "at column 2); skipped",
        f"WARNING: {name} line 4: unknown event 'teleported' (recorded by a newer mqscope?); skipped",
        f"WARNING: {name} line 5: not UTF-8 text (byte 1); skipped",
        "ACKNOWLEDGED [00000001] from video_queue by worker",
        f"WARNING: {name} line 7: truncated (the recording ends in the middle of this line); skipped",
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not an mqscope recording (it is empty)"),
        ("[[exchanges]]\nname = 'x'\n", "not an mqscope recording (line 1 is not JSON: is it a JSONL file?)"),
        (
            '{"event": "acked"}\n',
            "not an mqscope recording (line 1 is not its header: was it written by --record?)",
        ),
        ('{"format": "mqscope-recording"}\n', "not an mqscope recording (its header has no format version)"),
        ('{"format": "mqscope-recording", "version": 9, "mqscope": "9.0"}\n', "recording format 9 is newer"),
        (
            '{"format": "mqscope-recording", "version": 1, '
            '"topology": [{"op": "declare", "kind": "exchange"}]}\n',
            "line 1: header topology exchange: no 'name'",
        ),
    ],
)
def test_a_file_that_is_not_a_recording_is_refused_in_one_line(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(text)
    with pytest.raises(RecordingError) as caught:
        Recording(str(path))
    assert str(caught.value).startswith(f"--replay {path}: ") and reason in str(caught.value)


def test_a_recorder_that_cannot_write_says_so_on_the_stream(tmp_path: Path) -> None:
    from core.events import EventStream

    recorder = Recorder(str(tmp_path / "r.jsonl"), {"format": "mqscope-recording", "version": 1})
    stream = EventStream()
    recorder.tee(stream)
    recorder._file = open("/dev/full", "w")  # noqa: SIM115 as a full disk would: the next flush fails
    stream.put(Acked(msg="a", queue="q", consumer="c"))
    stream.drain()
    (notice,) = stream.drain()
    assert isinstance(notice, Notice) and notice.level == "error"
    assert notice.text.startswith(f"--record {tmp_path / 'r.jsonl'}: ") and "recording stopped" in notice.text


def test_a_version_1_recording_kept_in_the_repository_still_replays() -> None:
    path = Path(__file__).parent / "data" / "dead_letter.jsonl"
    recorded = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    replayed = io.StringIO()
    engine = ReplayEngine(Recording(str(path)), speed=4.0, announce_end=False)
    assert run_replay_headless(engine, True, replayed) == 0
    assert _without_ts(replayed.getvalue()) == [{k: v for k, v in e.items() if k != "ts"} for e in recorded]
