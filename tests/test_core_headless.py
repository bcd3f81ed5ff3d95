"""The headless runner end to end on real brokers: the seed, failure policies, and the CLI's text mode
and bad input (the JSON contract and exit codes 0 and 3 are in test_cli_contract.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from broker_support import fresh_url
from core.backends import DEFAULT_BROKER_URL
from core.backends.memory import reset_memory_transport
from core.broker import reset_brokers
from core.engine import Engine
from core.events import BrokerStatus, Published
from core.headless import HeadlessOptions, HeadlessPrinter, run_headless
from core.scenario import load_scenario, parse_scenario

BROKERS = sorted({"memory://", DEFAULT_BROKER_URL})


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    reset_memory_transport()


def run(scenario: Any, broker: str, **options: Any) -> tuple[int, list[dict[str, Any]]]:
    """Run headless in this process and return (exit code, JSON events), on an empty in-process broker
    (it is process-wide: another test's queue of the same name would refuse this one's arguments)."""
    reset_brokers()
    engine = Engine(scenario, broker, speed=options.pop("speed", 4.0))
    out = io.StringIO()
    code = run_headless(engine, HeadlessOptions(as_json=True, timeout=20.0, **options), out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


@pytest.mark.parametrize("broker", BROKERS)
def test_seed_routes_and_acks_each_copy_once(broker: str) -> None:
    code, events = run(load_scenario("seed"), broker)
    assert code == 0
    published = {e["msg"]: e["routing_key"] for e in of(events, "published")}
    assert sorted(published.values()) == ["user.login", "video.upload"]
    routed = {published[e["msg"]]: e["queues"] for e in of(events, "routed")}
    assert routed == {"video.upload": ["audit_queue", "video_queue"], "user.login": ["audit_queue"]}
    acks = Counter((published[e["msg"]], e["queue"]) for e in of(events, "acked"))
    assert acks == {
        ("video.upload", "video_queue"): 1,
        ("video.upload", "audit_queue"): 1,
        ("user.login", "audit_queue"): 1,
    }
    for event in events:
        assert {"event", "msg"} <= set(event)
    for event in of(events, "delivered") + of(events, "acked"):
        assert event["consumer"] == "worker"


def test_publish_and_repeat_without_script() -> None:
    code, events = run(
        load_scenario("seed"),
        DEFAULT_BROKER_URL,
        publish=["video.a", "user.b"],
        repeat=3,
        play_script=False,
    )
    assert code == 0
    assert Counter(e["routing_key"] for e in of(events, "published")) == {"video.a": 3, "user.b": 3}
    assert len(of(events, "acked")) == 3 * 2 + 3


ONE_QUEUE = """
[[exchanges]]
name = "jobs"
type = "direct"
[[exchanges]]
name = "jobs.dlx"
type = "fanout"
[[queues]]
name = "work"
bindings = [{{ exchange = "jobs", routing_key = "job" }}]
dead_letter_exchange = "jobs.dlx"
[[queues]]
name = "graveyard"
bindings = [{{ exchange = "jobs.dlx" }}]
[[consumers]]
name = "w"
queues = ["work"]
prefetch = 1
on_failure = "{policy}"
[[publish]]
exchange = "jobs"
routing_key = "job"
body = {{ n = 1, fail = true }}
[[publish]]
exchange = "jobs"
routing_key = "job"
body = {{ n = 2 }}
"""


@pytest.mark.parametrize("broker", BROKERS)
def test_failing_handler_requeues_and_never_stalls(broker: str) -> None:
    scenario = parse_scenario(ONE_QUEUE.format(policy="requeue"), "requeue.toml")
    code, events = run(scenario, broker)
    assert code == 0, events
    first = of(events, "published")[0]["msg"]
    rejected = of(events, "rejected")
    assert [(e["msg"], e["action"]) for e in rejected] == [(first, "requeue")]
    assert any(e["msg"] == first for e in of(events, "requeued"))
    redelivered = [e for e in of(events, "delivered") if e["msg"] == first and e["redelivered"]]
    # RabbitMQ (and mqscope://) marks a requeued message redelivered; memory:// never does.
    assert bool(redelivered) == (broker != "memory://")
    warned = any("memory:// requeues by publishing again" in e["text"] for e in of(events, "notice"))
    assert warned == (broker == "memory://")
    # prefetch=1: the second message still gets through (the tutorial's worker stalls here)
    assert {e["msg"] for e in of(events, "acked")} == {e["msg"] for e in of(events, "published")}


@pytest.mark.parametrize("broker", BROKERS)
def test_failing_handler_dead_letters(broker: str) -> None:
    scenario = parse_scenario(ONE_QUEUE.format(policy="dead_letter"), "dlx.toml")
    code, events = run(scenario, broker)
    assert code == 0, events
    first = of(events, "published")[0]["msg"]
    assert [(e["msg"], e["action"]) for e in of(events, "rejected")] == [(first, "dead_letter")]
    if broker == "memory://":
        # kombu's memory:// has no dead-lettering: the message is gone, and we say so.
        assert [e["msg"] for e in of(events, "dropped")] == [first]
    else:
        [dead] = of(events, "dead_lettered")
        assert (dead["msg"], dead["queue"], dead["reason"]) == (first, "work", "rejected")


def test_drop_policy_is_visible() -> None:
    scenario = parse_scenario(ONE_QUEUE.format(policy="drop"), "drop.toml")
    code, events = run(scenario, DEFAULT_BROKER_URL)
    assert code == 0
    assert [e["action"] for e in of(events, "rejected")] == ["drop"]


@pytest.mark.parametrize("broker", BROKERS)
def test_unroutable_message_settles(broker: str) -> None:
    scenario = parse_scenario(ONE_QUEUE.format(policy="requeue"), "jobs.toml")
    code, events = run(scenario, broker, play_script=False, publish=["no.such.job"])
    assert code == 0
    assert [e["queues"] for e in of(events, "routed")] == [[]]


def test_memory_transport_refuses_headers_exchange_up_front() -> None:
    result = cli("--headless", "--scenario", "headers", "--broker", "memory://")
    assert result.returncode == 2
    assert "kombu memory:// has no headers exchange (exchange 'documents')" in result.stderr


LATE_SCRIPT = """
[[exchanges]]
name = "jobs"
type = "direct"
[[queues]]
name = "work"
bindings = [{ exchange = "jobs", routing_key = "job" }]
[[consumers]]
name = "w"
queues = ["work"]
work_seconds = 0
[[publish]]
exchange = "jobs"
routing_key = "job"
after = 0
[[publish]]
exchange = "jobs"
routing_key = "job"
after = 600
"""


def test_timeout_with_everything_published_settled_says_what_is_still_to_come(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = Engine(parse_scenario(LATE_SCRIPT, "late.toml"), fresh_url(), speed=4.0)
    code = run_headless(engine, HeadlessOptions(timeout=3.0), io.StringIO())
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert err == "timeout after 3s: 1 published message settled, none open; 1 not yet published"


ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_cli_headless_text_reads_like_the_tutorial() -> None:
    result = cli("--headless", "--speed", "4")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("SENDING [") and "'video.upload'" in line for line in lines)
    assert any(
        line.startswith("RECEIVED [") and "via 'user.login' from audit_queue" in line for line in lines
    )
    assert sum(line.startswith("ACKNOWLEDGED [") for line in lines) == 3


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--scenario", "nope"], "nope: no such scenario file or built-in scenario"),
        (["--broker", "carrier-pigeon://x"], "unsupported broker URL scheme 'carrier-pigeon'"),
        (["--publish", "k" * 256], "routing key is 256 bytes"),
        (["--publish", "a", "--body", "{oops"], "--body is not valid JSON"),
        (["--repeat", "0"], "--repeat must be at least 1"),
        (["--speed", "9"], "--speed must be between 0.25 and 4"),
        (["--timeout", "soon"], "argument --timeout: invalid float value: 'soon'"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args: list[str], fragment: str) -> None:
    result = cli("--headless", *args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_bad_scenario_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[exchanges]]\nname = "x"\ntype = "topix"\n')
    result = cli("--headless", "--scenario", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {bad}: exchanges[1] ('x'): "
        "exchange type 'topix' is not one of direct, fanout, topic, headers"
    )


STAR_A = """
[[exchanges]]
name = "x"
type = "topic"
[[queues]]
name = "q"
bindings = [{ exchange = "x", routing_key = "*a" }]
[[consumers]]
name = "w"
queues = ["q"]
"""


def test_memory_transport_routing_defect_is_shown_not_fatal() -> None:
    # kombu's memory:// compiles '*a' to a broken regex and raises on every publish.
    scenario = parse_scenario(STAR_A, "star.toml")
    code, events = run(scenario, "memory://", play_script=False, publish=["*a"])
    assert code == 0
    [routed] = of(events, "routed")
    assert (routed["queues"], routed["rabbitmq_queues"]) == ([], ["q"])
    texts = [e["text"] for e in of(events, "notice")]
    assert any("RabbitMQ routes it to q" in t for t in texts)
    assert any("failed to publish '*a'" in t for t in texts)
    code, events = run(scenario, DEFAULT_BROKER_URL, play_script=False, publish=["*a"])
    assert code == 0
    assert [e["queues"] for e in of(events, "routed")] == [["q"]]


def test_cli_timeout_before_anything_was_published_says_so(tmp_path: Path) -> None:
    late = tmp_path / "late.toml"
    late.write_text(LATE_SCRIPT.replace("after = 0\n", "after = 600\n"))
    result = cli("--headless", "--scenario", str(late), "--timeout", "2")  # both steps wait 600 s
    assert result.returncode == 3
    assert result.stderr.strip() == "timeout after 2s: nothing was published yet (2 script steps pending)"
    assert "0 unsettled" not in result.stderr


def test_cli_timeout_while_still_connecting_names_the_broker_not_messages() -> None:
    # Nothing listens on port 1: the first connection retries with backoff (0.2 s, then longer)
    # and is still retrying when the 0.3 s timeout ends the run.
    # A scenario: without one, an amqp:// broker means discovery, which checks the broker at once.
    broker = "amqp://guest:s3cret@127.0.0.1:1//"
    result = cli("--headless", "--scenario", "seed", "--broker", broker, "--timeout", "0.3")
    assert result.returncode == 3
    err = result.stderr.strip()
    assert err.startswith("timeout after 0.3s: not connected to amqp://guest:***@127.0.0.1:1// yet (")
    assert "s3cret" not in err and result.stdout == ""


def test_output_is_held_until_the_broker_connects_then_comes_out_in_order() -> None:
    out = io.StringIO()
    printer = HeadlessPrinter(as_json=False, out=out)
    status = {"broker": "mqscope://x", "faithful": True, "detail": "d"}
    printer.print([BrokerStatus(state="connecting", **status)])
    assert out.getvalue() == "" and not printer.connected
    printer.print(
        [
            BrokerStatus(state="connected", **status),
            Published(msg="m1", exchange="jobs", routing_key="job", body={}),
        ]
    )
    words = [line.split()[0] for line in out.getvalue().splitlines()]
    assert words == ["BROKER", "BROKER", "SENDING"] and "connecting" in out.getvalue().splitlines()[0]
