"""Producers that keep going (core.producers): the schedule, the scenario table, the engine's loops.

Rates are checked by counting messages (one producer against another, or credit against simulated
time), never by timing anything."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.backends.memory import reset_memory_transport
from core.broker import reset_brokers
from core.engine import Engine
from core.headless import HeadlessOptions, run_headless
from core.producers import (
    CATCH_UP_SECONDS,
    KeyChoice,
    Picker,
    ProducerError,
    ProducerSpec,
    RateSchedule,
    parse_rate,
)
from core.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent

TWO_PRODUCERS = """
[[exchanges]]
name = "jobs"
type = "topic"

[[queues]]
name = "work"
bindings = [{ exchange = "jobs", routing_key = "#" }]

[[consumers]]
name = "fast"
queues = ["work"]
prefetch = 50

[[producers]]
name = "slow"
exchange = "jobs"
rate = 20
keys = ["slow.one", "slow.two"]

[[producers]]
name = "quick"
exchange = "jobs"
rate = 60
keys = [{ key = "quick.a", weight = 1 }, { key = "quick.b", weight = 1 }]
bodies = [{ n = 1 }, "two", 3]
"""


@pytest.fixture(autouse=True)
def _clean_brokers() -> Iterator[None]:
    reset_brokers()
    reset_memory_transport()
    yield
    reset_brokers()
    reset_memory_transport()


# -- the schedule ---------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.1, 7.0, 1000.0])
def test_the_schedule_makes_rate_times_time_messages_however_the_thread_wakes(rate: float) -> None:
    wakes = random.Random(rate)
    now, made = 0.0, 0
    schedule = RateSchedule(now)
    while now < 100.0:
        now += wakes.uniform(0.001, CATCH_UP_SECONDS * 0.9)  # late and early wake-ups alike
        made += schedule.due(now, rate)
    assert abs(made - (1 + rate * now)) <= 1  # the first goes at once; no drift after that


def test_a_freeze_or_a_stall_is_not_made_up_for_with_a_burst() -> None:
    schedule = RateSchedule(0.0)
    assert schedule.due(0.0, 100.0) == 1
    schedule.hold(60.0)  # frozen for a minute: no credit
    assert schedule.due(60.015, 100.0) == 1
    assert schedule.due(70.0, 100.0) == 1 + 100 * CATCH_UP_SECONDS  # a 10 s stall: capped


def test_weighted_keys_are_drawn_by_weight_and_plain_keys_and_bodies_taken_in_turn() -> None:
    weighted = ProducerSpec(
        "p", "x", 1.0, (KeyChoice("video.upload", 3), KeyChoice("user.login", 1)), weighted=True
    )
    picker = Picker(weighted)
    counts = Counter(picker.next()[0] for _ in range(4000))
    assert 2.6 < counts["video.upload"] / counts["user.login"] < 3.4
    plain = Picker(ProducerSpec("p", "x", 1.0, (KeyChoice("a"), KeyChoice("b")), bodies=(1, 2, 3)))
    assert [plain.next() for _ in range(4)] == [("a", 1), ("b", 2), ("a", 3), ("b", 1)]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0", "rate must be between 0.1 and 1000 messages a second, not 0"),
        ("1001", "rate must be between 0.1 and 1000 messages a second, not 1001"),
        ("nan", "rate must be a number of messages a second, not nan"),
        ("fast", "rate must be a number of messages a second, not 'fast'"),
    ],
)
def test_a_typed_rate_out_of_range_is_one_line(text: str, problem: str) -> None:
    with pytest.raises(ProducerError) as caught:
        parse_rate(text)
    assert str(caught.value) == problem
    assert parse_rate(" 0.5 ") == 0.5


# -- the scenario table ---------------------------------------------------------------------------
def test_a_scenario_declares_producers_with_rates_keys_and_bodies() -> None:
    scenario = parse_scenario(TWO_PRODUCERS, "two.toml")
    slow, quick = scenario.producers
    assert (slow.name, slow.rate, slow.weighted, [k.key for k in slow.keys]) == (
        "slow", 20.0, False, ["slow.one", "slow.two"]
    )
    assert (quick.weighted, quick.bodies) == (True, ({"n": 1}, "two", 3))
    assert [p.name for p in load_scenario("backlog").producers] == ["uploads", "logins"]


BASE = """
[[exchanges]]
name = "jobs"

[[producers]]
name = "p"
exchange = "jobs"
"""


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("rate = 0", "rate must be between 0.1 and 1000 messages a second, not 0"),
        ("rate = 5000", "rate must be between 0.1 and 1000 messages a second, not 5000"),
        ("rate = 1e400", "rate must be a finite number, not inf"),
        ('rate = "fast"', "rate must be a number, not a string"),
        ("keys = ['a']", "missing required field 'rate'"),
        ("rate = 1\nkeys = [{ key = 'a', weight = -1 }]", "keys: weight of 'a' must be above 0, not -1"),
        ("rate = 1\nkeys = [{ key = 'a', weight = 'x' }]", "keys[1]: weight must be a number"),
        ("rate = 1\nkeys = [{ key = 'a', weight = 1e400 }]", "keys: weight of 'a' must be a finite number, not inf"),  # noqa: E501
        ("rate = 1\nkeys = [{ key = 'a', wieght = 2 }]", "keys[1]: unknown field 'wieght' (allowed: key, weight)"),  # noqa: E501
        ("rate = 1\nkeys = [3]", "keys[1]: must be a routing key or {key = ..., weight = ...}"),
        ("rate = 1\nkeys = []", "keys: give at least one routing key"),
        ("rate = 1\nbodies = []", "bodies: give at least one body"),
        ("rate = 1\nspeed = 2", "unknown field 'speed' (allowed: bodies, exchange, headers, keys, name, rate)"),  # noqa: E501
        ("rate = 1\nheaders = 3", "headers must be a table, not int"),
        ("rate = 1\nheaders = { n = nan }", "headers.n: nan is not a finite number"),
        ("rate = 1\nheaders = { a = { b = 1e400 } }", "headers.a.b: inf is not a finite number"),
    ],
)
def test_a_bad_producer_is_one_line_naming_file_entry_and_field(table: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(BASE + table, "bad.toml")
    assert str(caught.value) == f"bad.toml: producers[1] ('p'): {problem}"


def test_a_producer_on_an_unknown_exchange_or_a_taken_name_is_refused() -> None:
    unknown = BASE.replace('exchange = "jobs"', 'exchange = "nope"') + "rate = 1"
    with pytest.raises(ScenarioError, match=r"^bad.toml: producers\[1\] \('p'\): exchange: unknown exchange"):
        parse_scenario(unknown, "bad.toml")
    twice = BASE + "rate = 1\n" + '[[producers]]\nname = "p"\nexchange = "jobs"\nrate = 2\n'
    with pytest.raises(ScenarioError, match=r"producers\[2\] \('p'\): a producer of that name is declared"):
        parse_scenario(twice, "bad.toml")


def test_the_cli_says_a_bad_weight_in_one_line_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + "rate = 2\nkeys = [{ key = 'a', weight = 0 }]\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "tui", "--headless", "--scenario", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.splitlines() == [
        f"error: {bad}: producers[1] ('p'): keys: weight of 'a' must be above 0, not 0"
    ]


# -- the engine and headless ----------------------------------------------------------------------
def test_headless_runs_two_producers_until_the_timeout_at_their_rate_ratio() -> None:
    scenario = parse_scenario(TWO_PRODUCERS, "two.toml")
    out = io.StringIO()
    engine = Engine(scenario, "mqscope://")
    assert run_headless(engine, HeadlessOptions(timeout=2.0), out) == 0  # producers: ends at --timeout
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    keys = Counter(e["routing_key"].split(".")[0] for e in events if e["event"] == "published")
    assert keys["slow"] >= 20  # both ran for most of the run
    assert 2.4 <= keys["quick"] / keys["slow"] <= 3.6  # 60 msg/s against 20 msg/s
    for name in ("slow", "quick"):  # handed over; the last few may still wait for the producer thread
        control = engine.producers.control(name)
        assert control is not None and control.sent >= keys[name]


def test_no_script_starts_neither_the_script_nor_the_producers() -> None:
    scenario = parse_scenario(TWO_PRODUCERS, "two.toml")
    out = io.StringIO()
    options = HeadlessOptions(publish=["slow.x"], play_script=False, timeout=10.0)
    assert run_headless(Engine(scenario, "mqscope://"), options, out) == 0
    published = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["routing_key"] for e in published if e["event"] == "published"] == ["slow.x"]


def test_the_rate_meter_follows_a_steady_counter_and_a_change_of_rate() -> None:
    from core.rates import RateMeter

    meter = RateMeter()
    for tick in range(41):  # 20 s at 10 msg/s, read twice a second
        meter.sample(tick * 5, tick * 0.5)
    assert 9.5 < meter.rate <= 10.0
    for tick in range(1, 41):  # then 20 s at 2 msg/s
        meter.sample(200 + tick, 20 + tick * 0.5)
    assert 2.0 <= meter.rate < 2.5


def test_a_producer_whose_exchange_is_deleted_stops_says_so_and_is_forgotten() -> None:
    import time

    from core.events import Notice
    from core.runner import LoopRunner
    from core.topology_changes import TopologyChange

    spare = BASE.replace('exchange = "jobs"', 'exchange = "spare"').replace(
        "[[producers]]", '[[exchanges]]\nname = "spare"\n\n[[producers]]'
    )
    engine = Engine(parse_scenario(spare + "rate = 50", "p.toml"), "mqscope://")
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner)
    try:
        exchange = engine.topology.exchange("spare")
        assert exchange is not None and engine.producers.names == ["p"]
        engine.change_topology(TopologyChange("delete", exchange))
        notices: list[str] = []
        deadline = time.monotonic() + 20.0  # bounds a failure only
        while not notices:
            assert time.monotonic() < deadline, "the producer never stopped"
            engine.events.wait(0.1)
            notices += [e.text for e in engine.events.drain() if isinstance(e, Notice)]
            runner.raise_first_error()
        assert notices == ["producer p stopped: unknown exchange 'spare'"]
        assert engine.producers.names == []
    finally:
        runner.shutdown()


HEADERS_PRODUCER = """
[[exchanges]]
name = "documents"
type = "headers"

[[queues]]
name = "pdf_reports"
bindings = [{ exchange = "documents", arguments = { "x-match" = "all", format = "pdf", type = "report" } }]

[[queues]]
name = "logs"
bindings = [{ exchange = "documents", arguments = { "x-match" = "any", type = "log" } }]

[[consumers]]
name = "reader"
queues = ["pdf_reports", "logs"]
prefetch = 10

[[producers]]
name = "reports"
exchange = "documents"
rate = 20
headers = { format = "pdf", type = "report", pages = 3 }
"""


def test_a_producers_headers_go_on_every_message_and_drive_a_headers_exchange() -> None:
    scenario = parse_scenario(HEADERS_PRODUCER, "headers.toml")
    assert dict(scenario.producers[0].headers) == {"format": "pdf", "type": "report", "pages": 3}
    out = io.StringIO()
    assert run_headless(Engine(scenario, "mqscope://"), HeadlessOptions(timeout=1.0), out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    routed = [e["queues"] for e in events if e["event"] == "routed"]
    delivered = [e for e in events if e["event"] == "delivered"]
    assert len(routed) >= 5 and all(queues == ["pdf_reports"] for queues in routed)
    carried = {"format": "pdf", "type": "report", "pages": 3}
    assert delivered and all(e["headers"] == carried for e in delivered)


def test_a_producers_headers_are_exported_and_load_back() -> None:
    from core.exporters import export

    scenario = parse_scenario(HEADERS_PRODUCER, "headers.toml")
    again = parse_scenario(export(scenario, "toml"), "again.toml")
    assert again.producers == scenario.producers and again.producers[0].headers["pages"] == 3
