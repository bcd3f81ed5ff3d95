"""Exports load back to what they came from: TOML -> TOML, TOML -> definitions -> TOML; the kombu
program compiles, and run on mqscope:// it settles each message as mqscope's own consumers do."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.definitions import parse_definitions
from core.exporters import ExportError, FileExists, export, to_definitions, to_toml, write_new_file
from core.scenario import Scenario, builtin_names, load_scenario, parse_scenario
from core.scenario_files import open_scenario
from core.topology import BindingSpec, ExchangeSpec, PublishStep, QueueSpec, Topology

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "tests" / "data" / "definitions_shop.json"

HOSTILE = Scenario(
    name='odd "name"',
    title="tab\there, back\\slash, ünïcode ✓",
    topology=Topology(
        exchanges=(
            ExchangeSpec("ex.\"quoted\"", "topic", durable=False, alternate_exchange="alt"),
            ExchangeSpec("alt", "fanout"),
            ExchangeSpec("hdr", "headers"),
        ),
        queues=(
            QueueSpec(
                "q \\ 1",
                (BindingSpec('ex."quoted"', "a.*.#"), BindingSpec("alt", "")),
                dead_letter_exchange="alt",
                dead_letter_routing_key="dead.\u00e9",
                message_ttl=1.005,
                max_length=7,
                durable=False,
            ),
            QueueSpec("h", (BindingSpec("hdr", "", {"x-match": "any", "a key": 1, "f": 2.5, "b": True}),)),
        ),
    ),
    publishes=(
        PublishStep(
            'ex."quoted"',
            "a.b.c",
            {"nested": {"list": [1, "two", 3.0, False]}, "ctl": "\x1b[2J\x7f"},
            {"h-1": "v", "n": 2},
            after=0.25,
            mandatory=True,
            expiration=1.5,
        ),
        PublishStep("", "q \\ 1", "plain string body"),
    ),
)


def _without_consumers(topology: Topology) -> Topology:
    return dataclasses.replace(topology, consumers=())


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_round_trips_through_toml(name: str) -> None:
    scenario = load_scenario(name)
    again = parse_scenario(to_toml(scenario), "again.toml")
    assert (again.name, again.title) == (scenario.name, scenario.title)
    assert again.topology == scenario.topology
    assert again.publishes == scenario.publishes
    assert again.producers == scenario.producers  # backlog's: weighted and plain keys, bodies


def test_a_manual_consumer_round_trips_through_toml() -> None:
    scenario = load_scenario("dead_letter")
    manual = tuple(dataclasses.replace(c, manual=c.name == "billing") for c in scenario.topology.consumers)
    topology = dataclasses.replace(scenario.topology, consumers=manual)
    again = parse_scenario(to_toml(dataclasses.replace(scenario, topology=topology)), "again.toml")
    assert again.topology == topology and again.topology.consumer("billing").manual  # type: ignore[union-attr]


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_round_trips_through_definitions(name: str) -> None:
    """TOML -> definitions -> TOML: the same exchanges, queues and bindings (definitions hold no
    consumers: the import adds its own worker, so consumers are left out of the comparison)."""
    scenario = load_scenario(name)
    imported = parse_definitions(to_definitions(scenario.topology), "d.json")
    assert imported.notice is None  # nothing mqscope exports is left out when it reads it back
    again = parse_scenario(to_toml(imported), "again.toml")
    assert _without_consumers(again.topology) == _without_consumers(scenario.topology)


def test_names_keys_and_bodies_that_need_escaping_round_trip() -> None:
    again = parse_scenario(to_toml(HOSTILE), "again.toml")
    assert dataclasses.replace(again, source=HOSTILE.source) == HOSTILE
    imported = parse_definitions(to_definitions(HOSTILE.topology, "/v"), "d.json", "/v")
    assert _without_consumers(imported.topology) == HOSTILE.topology


def test_imported_definitions_export_as_toml_and_back() -> None:
    scenario = open_scenario(str(SHOP))
    again = parse_scenario(to_toml(scenario), "again.toml")
    assert again.topology == scenario.topology


def test_definitions_are_what_rabbitmq_exports() -> None:
    data = json.loads(to_definitions(load_scenario("dead_letter").topology, "lab"))
    assert data["vhosts"] == [{"name": "lab"}]
    shipping = next(q for q in data["queues"] if q["name"] == "shipping")
    assert shipping == {
        "name": "shipping",
        "vhost": "lab",
        "durable": True,
        "auto_delete": False,
        "arguments": {"x-dead-letter-exchange": "orders.dlx", "x-message-ttl": 2000, "x-max-length": 2},
    }
    assert {"source": "orders.dlx", "vhost": "lab", "destination": "orders_dead",
            "destination_type": "queue", "routing_key": "", "arguments": {}} in data["bindings"]


def test_a_null_cannot_be_written_as_toml() -> None:
    scenario = dataclasses.replace(HOSTILE, publishes=(PublishStep("alt", "k", {"a": None}),))
    with pytest.raises(ExportError, match="body: null cannot be written as TOML"):
        to_toml(scenario)


def test_write_new_file_never_overwrites_without_being_told(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    write_new_file(str(path), "first\n")
    with pytest.raises(FileExists, match=r"s\.toml: exists"):
        write_new_file(str(path), "second\n")
    assert path.read_text() == "first\n"
    write_new_file(str(path), "second\n", overwrite=True)
    assert path.read_text() == "second\n"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("missing/dir/s.toml", "no such directory"),
        (".", "is a directory"),
        ("", "type a file name"),
    ],
)
def test_write_new_file_says_what_is_wrong_in_one_line(tmp_path: Path, name: str, problem: str) -> None:
    path = str(tmp_path / name) if name else ""
    with pytest.raises(ExportError) as caught:
        write_new_file(path, "x")
    assert problem in str(caught.value) and "\n" not in str(caught.value)
    assert not isinstance(caught.value, FileExists)


@pytest.mark.parametrize("name", builtin_names())
def test_every_kombu_program_compiles(name: str) -> None:
    compile(export(load_scenario(name), "kombu"), f"{name}.py", "exec")


def run_program(path: Path, url: str, seconds: float = 60) -> list[str]:
    """Run an exported program as its own process; its settlement lines, sorted (threads interleave)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(path), url, str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        env=env,
        cwd=path.parent,
    )
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.splitlines())


DEAD_LETTER_SETTLEMENTS = sorted(
    [
        "ACKED m1 from orders_queue by billing",
        "REJECTED m2 from orders_queue by billing: body asked to fail on its first delivery",
        "ACKED m2 from orders_dead by janitor",  # its dead-lettered copy
        "ACKED m4 from orders_dead by janitor",  # pushed out of shipping (max length 2) by m6
        "ACKED m5 from orders_dead by janitor",  # expired in shipping (TTL 2 s)
        "ACKED m6 from orders_dead by janitor",
    ]
)


def test_kombu_program_runs_on_mqscope(tmp_path: Path) -> None:
    program = tmp_path / "dead_letter.py"
    program.write_text(export(load_scenario("dead_letter"), "kombu"))
    assert run_program(program, "mqscope://") == DEAD_LETTER_SETTLEMENTS


def test_kombu_program_dispatches_by_queue_on_mqscope(tmp_path: Path) -> None:
    program = tmp_path / "seed.py"
    program.write_text(export(load_scenario("seed"), "kombu"))
    assert run_program(program, "mqscope://") == [
        "ACKED m1 from audit_queue by worker",
        "ACKED m1 from video_queue by worker",
        "ACKED m2 from audit_queue by worker",
    ]


# Any text TOML can hold: every code point but lone surrogates (UTF-8 cannot carry them either).
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_json_scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False), _text
)
_bodies = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(title=_text, key=_text, body=_bodies, headers=st.dictionaries(_text, _json_scalars, max_size=3))
def test_any_title_key_body_and_headers_round_trip_through_toml(
    title: str, key: str, body: object, headers: dict[str, object]
) -> None:
    """The TOML writer's escaping, on whatever hypothesis finds: what it writes reads back equal."""
    scenario = dataclasses.replace(
        HOSTILE, title=title, publishes=(PublishStep("alt", key, body, headers),)
    )
    text = to_toml(scenario)
    data = tomllib.loads(text)
    assert data["scenario"]["title"] == title
    (step,) = data["publish"]
    assert (step["routing_key"], step["body"], step.get("headers", {})) == (key, body, headers)


@pytest.mark.parametrize("name", ["dead_letter", "headers"])
def test_kombu_program_settles_as_mqscope_itself_shows(name: str, tmp_path: Path) -> None:
    """The program's acks and rejects are the ones `--headless` reports for the same scenario
    (message n of the script is m<n> in the program)."""
    program = tmp_path / f"{name}.py"
    program.write_text(export(load_scenario(name), "kombu"))
    lines = run_program(program, "mqscope://")
    from_program = sorted(
        (int(words[1][1:]), words[0], words[3], words[5].rstrip(":"))
        for words in (line.split() for line in lines)
    )
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--headless", "--json", "--scenario", name],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    number = {e["msg"]: n for n, e in enumerate((e for e in events if e["event"] == "published"), 1)}
    verb = {"acked": "ACKED", "rejected": "REJECTED"}
    from_mqscope = sorted(
        (number[e["msg"]], verb[e["event"]], e["queue"], e["consumer"])
        for e in events
        if e["event"] in verb
    )
    assert from_program == from_mqscope


EVERYTHING = '''
[scenario]
name = "everything"
title = "Every argument issue 13 added, in one scenario"

[[exchanges]]
name = "upstream"
type = "topic"

[[exchanges]]
name = "downstream"
type = "fanout"
bindings = [{ exchange = "upstream", routing_key = "a.#" }]

[[exchanges]]
name = "dlx"
type = "direct"

[[queues]]
name = "prio"
bindings = [{ exchange = "downstream" }]
dead_letter_exchange = "dlx"
dead_letter_routing_key = "dead"
[queues.arguments]
"x-max-priority" = 10
"x-overflow" = "reject-publish-dlx"
"x-max-length" = 50
"x-max-length-bytes" = 100000
"x-expires" = 600000

[[queues]]
name = "qq"
bindings = [{ exchange = "upstream", routing_key = "b.#" }]
arguments = { "x-queue-type" = "quorum", "x-delivery-limit" = 2, "x-single-active-consumer" = true }

[[queues]]
name = "dead"
bindings = [{ exchange = "dlx", routing_key = "dead" }]

[[consumers]]
name = "high"
queues = ["prio"]
arguments = { "x-priority" = 5 }

[[consumers]]
name = "low"
queues = ["prio"]
arguments = { "x-priority" = -1 }

[[consumers]]
name = "single"
queues = ["qq"]

[[consumers]]
name = "janitor"
queues = ["dead"]

[[publish]]
exchange = "upstream"
routing_key = "a.one"
body = { n = 1 }
properties = { priority = 7, expiration = "60000" }

[[publish]]
exchange = "upstream"
routing_key = "b.two"
body = { n = 2 }
properties = { priority = 3 }

[[publish]]
exchange = "upstream"
routing_key = "a.three"
body = { n = 3, fail = true }
'''
"""A scenario that uses every queue argument, consumer argument, exchange-to-exchange binding and
publish property the model holds."""


def test_a_scenario_using_every_argument_round_trips_through_toml_and_definitions() -> None:
    scenario = parse_scenario(EVERYTHING, "everything.toml")
    assert scenario.topology.exchange("downstream").bindings  # type: ignore[union-attr]
    assert [s.priority for s in scenario.publishes] == [7, 3, None]
    again = parse_scenario(to_toml(scenario), "again.toml")
    assert (again.topology, again.publishes) == (scenario.topology, scenario.publishes)
    imported = parse_definitions(to_definitions(scenario.topology), "d.json")
    assert imported.notice is None
    back = parse_scenario(to_toml(imported), "back.toml")
    assert _without_consumers(back.topology) == _without_consumers(scenario.topology)


def test_kombu_program_declares_every_argument_and_runs_on_mqscope(tmp_path: Path) -> None:
    """Queue arguments, consumer x-priority, the exchange-to-exchange binding and publish
    properties are all in the program, and mqscope:// (which refuses what it does not model) runs it."""
    scenario = parse_scenario(EVERYTHING, "everything.toml")
    text = export(scenario, "kombu")
    for part in ("'x-max-priority': 10", "'x-priority': 5", "'x-delivery-limit': 2", "'priority': 7"):
        assert part in text
    program = tmp_path / "everything.py"
    program.write_text(text)
    lines = run_program(program, "mqscope://")
    # m1 and m3 cross upstream -> downstream -> prio; m2 goes to the quorum queue; m3's failure is
    # requeued (the default on_failure) and acked on its second delivery
    settled = [line.split() for line in lines]
    acked = sorted((words[1], words[3], words[5]) for words in settled if words[0] == "ACKED")
    assert [(msg, queue) for msg, queue, _ in acked] == [("m1", "prio"), ("m2", "qq"), ("m3", "prio")]
    assert {by for _, queue, by in acked if queue == "prio"} <= {"high", "low"}
    assert acked[1][2] == "single"
    others = [words[:4] for words in settled if words[0] != "ACKED"]
    assert others == [["REQUEUED", "m3", "to", "prio"]]
