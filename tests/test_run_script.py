"""`python -m tui --headless --run SCRIPT.py`: a kombu program run unchanged, watched.

Real runs in subprocesses (each program owns its process, as it would): the tutorial's script on
memory:// and on mqscope:// shows its topology, routes, deliveries and acks; a program's exit code
is what `python SCRIPT.py` gives; a program that never ends is stopped by --timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def mqscope(*args: str, timeout: float = 60) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "--headless", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]], str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, [json.loads(line) for line in out.splitlines()], err


@pytest.fixture(scope="module")
def tutorial_runs() -> dict[str, tuple[int, list[dict[str, Any]], str]]:
    """Both runs at once: they take the tutorial's own ~5 s each."""
    started = {
        "memory": mqscope("--json", "--broker", "memory://", "--run", str(DATA / "kombu_tutorial.py")),
        "mqscope": mqscope("--json", "--run", str(DATA / "kombu_tutorial_mqscope.py")),
    }
    return {name: finish(process) for name, process in started.items()}


@pytest.mark.parametrize("broker", ["memory", "mqscope"])
def test_the_tutorial_shows_its_topology_and_routes(
    tutorial_runs: dict[str, tuple[int, list[dict[str, Any]], str]], broker: str
) -> None:
    code, events, err = tutorial_runs[broker]
    assert code == 0, err
    declared = {
        (e["kind"], e.get("name") or (e.get("source"), e.get("destination"), e.get("routing_key")))
        for e in events
        if e["event"] == "topology" and e["op"] == "declare" and e["origin"] == "script"
    }
    assert {
        ("exchange", "media_exchange"),
        ("queue", "video_queue"),
        ("queue", "audit_queue"),
        ("binding", ("media_exchange", "video_queue", "video.#")),
        ("binding", ("media_exchange", "audit_queue", "#")),
    } <= declared
    exchanges = [e for e in events if e["event"] == "topology" and e["kind"] == "exchange"]
    assert exchanges[0]["type"] == "topic"
    consumers = [e for e in events if e["event"] == "topology" and e["kind"] == "consumer"]
    assert consumers[1]["queues"] == ["video_queue", "audit_queue"] and consumers[1]["prefetch"] == 1
    published = {e["msg"]: e["routing_key"] for e in events if e["event"] == "published"}
    assert sorted(published.values()) == ["user.login", "video.upload"]
    routes = {published[e["msg"]]: e["queues"] for e in events if e["event"] == "routed"}
    assert routes == {"video.upload": ["audit_queue", "video_queue"], "user.login": ["audit_queue"]}
    delivered = Counter(published[e["msg"]] for e in events if e["event"] == "delivered")
    acked = Counter((published[e["msg"]], e["queue"]) for e in events if e["event"] == "acked")
    assert delivered == {"video.upload": 2, "user.login": 1}  # the tutorial's expected output
    assert acked == {
        ("video.upload", "video_queue"): 1,
        ("video.upload", "audit_queue"): 1,
        ("user.login", "audit_queue"): 1,
    }
    said = [e["text"] for e in events if e["event"] == "script_output"]
    assert sum("RECEIVED: video.upload" in line for line in said) == 2
    assert sum("Transcoding video" in line for line in said) == 2  # its defect: the audit copy too
    (ended,) = [e for e in events if e["event"] == "script_ended"]
    assert ended["exit_code"] == 0 and ended["script"].startswith("kombu_tutorial")


def test_memory_runs_are_marked_not_faithful_and_routed_by_the_transport(
    tutorial_runs: dict[str, tuple[int, list[dict[str, Any]], str]],
) -> None:
    _code, events, _err = tutorial_runs["memory"]
    assert {e["source"] for e in events if e["event"] == "routed"} == {"transport"}
    assert all(not e["faithful"] for e in events if e["event"] == "broker_status")
    notices = [e["text"] for e in events if e["event"] == "notice"]
    assert len(notices) == 1 and "memory:// transport, which is not RabbitMQ" in notices[0]
    _code, events, _err = tutorial_runs["mqscope"]
    assert {e["source"] for e in events if e["event"] == "routed"} == {"broker"}


def test_memory_routing_that_differs_from_rabbitmq_is_warned(tmp_path: Path) -> None:
    """memory:// does not match `video` to `video.#`; RabbitMQ does: the run says so."""
    script = tmp_path / "zero_words.py"
    script.write_text(
        "from kombu import Connection, Exchange, Queue\n"
        "x = Exchange('media', type='topic')\n"
        "q = Queue('vq', x, routing_key='video.#')\n"
        "with Connection('memory://') as conn:\n"
        "    conn.Producer().publish({'n': 1}, exchange=x, routing_key='video', declare=[q])\n"
    )
    code, events, err = finish(mqscope("--json", "--broker", "memory://", "--run", str(script)))
    assert code == 0, err
    (routed,) = [e for e in events if e["event"] == "routed"]
    assert routed["queues"] == [] and routed["rabbitmq_queues"] == ["vq"]
    warnings = [e["text"] for e in events if e["event"] == "notice" and e["level"] == "warning"]
    assert any("RabbitMQ routes it to vq" in text for text in warnings)


def test_a_program_on_another_in_process_broker_is_heard_and_told_where_depths_are(tmp_path: Path) -> None:
    """mqscope polls mqscope://localhost; the program uses mqscope://elsewhere: its broker's own
    routing reports are heard all the same, and one warning says depths are not polled there."""
    script = tmp_path / "elsewhere.py"
    script.write_text(
        "from kombu import Connection, Exchange, Queue\n"
        "with Connection('mqscope://elsewhere') as conn:\n"
        "    q = Queue('q', Exchange('x', type='direct'), routing_key='k')\n"
        "    conn.Producer().publish({'n': 1}, exchange=q.exchange, routing_key='k', declare=[q])\n"
        "    conn.SimpleQueue(q).get(timeout=5).ack()\n"
    )
    code, events, err = finish(mqscope("--json", "--run", str(script)))
    assert code == 0, err
    assert [e["queues"] for e in events if e["event"] == "routed"] == [["q"]]
    assert [e["event"] for e in events if e["event"] in ("delivered", "acked")] == ["delivered", "acked"]
    notices = [e["text"] for e in events if e["event"] == "notice"]
    assert any("mqscope://elsewhere but mqscope polls mqscope://localhost" in text for text in notices)


def test_an_exception_in_the_program_is_its_exit_code_1_with_its_traceback(tmp_path: Path) -> None:
    script = tmp_path / "boom.py"
    script.write_text("print('before')\n\ndef fail():\n    raise ValueError('no such task')\n\nfail()\n")
    code, events, err = finish(mqscope("--json", "--run", str(script)))
    assert code == 1, err
    lines = [(e["stream"], e["text"]) for e in events if e["event"] == "script_output"]
    assert lines[0] == ("stdout", "before")
    assert ("stderr", "Traceback (most recent call last):") in lines
    assert ("stderr", "ValueError: no such task") in lines
    assert not any("runpy" in text for _stream, text in lines)  # the program's frames only
    (ended,) = [e for e in events if e["event"] == "script_ended"]
    assert ended["error"] == "ValueError: no such task" and "fail()" in ended["traceback"]
    assert err == "boom.py: ValueError: no such task\n"


def test_the_program_gets_its_arguments_and_its_sys_exit_code_is_passed_through(tmp_path: Path) -> None:
    script = tmp_path / "args.py"
    script.write_text("import sys\nprint(sys.argv[1:])\nsys.exit(int(sys.argv[1]))\n")
    code, events, _err = finish(mqscope("--json", "--run", str(script), "4", "--json"))
    assert code == 4
    assert [e["text"] for e in events if e["event"] == "script_output"] == ["['4', '--json']"]


def test_a_program_that_never_ends_is_stopped_by_the_timeout(tmp_path: Path) -> None:
    script = tmp_path / "forever.py"
    script.write_text(
        "from kombu import Connection\n"
        "with Connection('mqscope://') as conn:\n"
        "    conn.SimpleQueue('nothing_comes').get(block=True)\n"  # blocks in drain_events, no timeout
    )
    began = time.monotonic()
    process = mqscope("--timeout", "1", "--run", str(script))
    out, err = process.communicate(timeout=30)
    assert process.returncode == 3, (out, err)
    assert err.strip().splitlines()[-1] == "timeout after 1s: the script is still running"
    assert time.monotonic() - began < 15


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--run", "no/such/script.py"], "--run: no such file 'no/such/script.py'"),
        (["--run"], "--run needs a SCRIPT.py"),
        (["--publish", "k", "--run", "tests/data/kombu_tutorial.py"], "--run runs your program's own"),
    ],
)
def test_a_run_that_cannot_start_is_one_line_and_exit_2(args: list[str], error: str) -> None:
    code, events, err = finish(mqscope(*args))
    assert (code, events) == (2, [])
    assert err.startswith(f"error: {error}") and err.count("\n") == 1


UNACKED_THEN_CLOSED = """
from kombu import Connection, Exchange, Queue
x = Exchange("x", type="direct")
q = Queue("q", x, routing_key="k")
with Connection("URL") as conn:
    conn.Producer().publish({"n": 1}, exchange=x, routing_key="k", declare=[q])
    channel = conn.channel()
    print("got", q(channel).get().payload)  # basic.get, never acked
    channel.close()
    print("then", q(conn.channel()).get() is not None)
"""


@pytest.mark.parametrize(
    ("url", "then", "fate"),
    [("memory://", "False", "dropped"), ("mqscope://", "True", "requeued")],
)
def test_what_each_broker_does_with_a_closed_channels_unacked_copy(
    tmp_path: Path, url: str, then: str, fate: str
) -> None:
    """memory:// loses it (and mqscope says RabbitMQ would requeue it); mqscope:// requeues it."""
    script = tmp_path / "unacked.py"
    script.write_text(UNACKED_THEN_CLOSED.replace("URL", url))
    code, events, err = finish(mqscope("--json", "--broker", url, "--run", str(script)))
    assert code == 0, err
    assert [e["text"] for e in events if e["event"] == "script_output"] == ["got {'n': 1}", f"then {then}"]
    after_get = next(e for e in events if e["event"] in ("dropped", "requeued"))
    assert after_get["event"] == fate and after_get["queue"] == "q"
    if fate == "dropped":
        assert "RabbitMQ would requeue it" in after_get["reason"]
