"""The command line's contract (what other tools rely on), checked on real `python -m tui --headless`
runs: exit 0 when settled and 3 on timeout naming what is unsettled, the seed's routing on the
default broker, and every field of every kind of JSON event, with its type.

All runs start together once per module (each is a separate process with its own brokers), so the
whole contract costs about one run's wall time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.events import FlowEvent
from core.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent

# What no built-in scenario reaches headless: a queue overflowing with no dead-letter exchange,
# a message expiring in it, and a mandatory publish that routes nowhere.
EDGES = """
[[exchanges]]
name = "x"
type = "direct"

[[queues]]
name = "capped"
bindings = [{ exchange = "x", routing_key = "k" }]
max_length = 1

[[publish]]
exchange = "x"
routing_key = "k"
body = { n = 1 }
after = 0

[[publish]]
exchange = "x"
routing_key = "k"
body = { n = 2 }
expiration = 0.2
after = 0

[[publish]]
exchange = "x"
routing_key = "nowhere"
body = { n = 3 }
mandatory = true
after = 0
"""

# Nobody consumes: the script's message and the --publish one stay in `work` until the timeout.
UNCONSUMED = """
[[exchanges]]
name = "jobs"
type = "direct"

[[queues]]
name = "work"
bindings = [{ exchange = "jobs", routing_key = "job" }]

[[publish]]
exchange = "jobs"
routing_key = "job"
body = { n = 1 }
after = 0
"""

FAST = ("--headless", "--json", "--speed", "4")
RUNS: dict[str, tuple[str, ...]] = {
    "seed": FAST,
    # At its own speed, as a user runs it: its script's timing makes TTL and overflow happen.
    "dead_letter": ("--headless", "--json", "--scenario", "dead_letter"),
    "headers": (*FAST, "--scenario", "headers"),
    # memory:// requeues by re-publishing, and routes `video` unlike RabbitMQ: notices say both.
    "memory_requeue": (
        *FAST,
        "--broker",
        "memory://",
        "--no-script",
        "--publish",
        "video",
        "--body",
        '{"fail": true}',
    ),
    "edges": (*FAST, "--scenario", "<edges>"),
    "unconsumed": (*FAST, "--scenario", "<unconsumed>", "--publish", "job", "--timeout", "1"),
}


@dataclass(frozen=True)
class Run:
    code: int
    events: list[dict[str, Any]]
    stderr: str
    scenario: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every run of RUNS, started at once, each waited for (exit code, JSON events, stderr)."""
    folder = tmp_path_factory.mktemp("scenarios")
    files = {"edges": folder / "edges.toml", "unconsumed": folder / "unconsumed.toml"}
    files["edges"].write_text(EDGES)
    files["unconsumed"].write_text(UNCONSUMED)
    paths = {f"<{name}>": str(path) for name, path in files.items()}
    argv = {name: [paths.get(a, a) for a in args] for name, args in RUNS.items()}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "tui", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in argv.items()
    }
    try:
        done = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            args = argv[name]
            scenario = args[args.index("--scenario") + 1] if "--scenario" in args else "seed"
            done[name] = Run(proc.returncode, [json.loads(line) for line in out.splitlines()], err, scenario)
        yield done
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


# -- exit codes ---------------------------------------------------------------------------------
def test_every_run_that_can_settle_exits_0_and_says_nothing_on_stderr(runs: dict[str, Run]) -> None:
    for name, run in runs.items():
        if name != "unconsumed":
            assert (name, run.code, run.stderr) == (name, 0, "")


def test_timeout_exits_3_naming_each_unsettled_message(runs: dict[str, Run]) -> None:
    run = runs["unconsumed"]
    assert run.code == 3
    first, second = [e["msg"] for e in of(run.events, "published")]  # the script's, then --publish's
    assert run.stderr == (
        f"timeout after 1s: 2 unsettled: {first} ('job' open in work), {second} ('job' open in work)\n"
    )
    assert [e["queues"] for e in of(run.events, "routed")] == [["work"], ["work"]]
    assert of(run.events, "delivered") == []


# -- the seed on the default broker -------------------------------------------------------------
def test_seed_on_the_default_broker_routes_and_acks_like_the_tutorial(runs: dict[str, Run]) -> None:
    events = runs["seed"].events
    keys = {e["msg"]: e["routing_key"] for e in of(events, "published")}
    assert sorted(keys.values()) == ["user.login", "video.upload"]
    routed = {keys[e["msg"]]: e["queues"] for e in of(events, "routed")}
    assert routed == {"video.upload": ["audit_queue", "video_queue"], "user.login": ["audit_queue"]}
    acked = Counter((keys[e["msg"]], e["queue"], e["consumer"]) for e in of(events, "acked"))
    assert acked == {
        ("video.upload", "video_queue", "worker"): 1,
        ("video.upload", "audit_queue", "worker"): 1,
        ("user.login", "audit_queue", "worker"): 1,
    }
    # No --broker: the in-process broker, which routes itself and behaves like RabbitMQ.
    assert {(e["broker"], e["faithful"]) for e in of(events, "broker_status")} == {
        ("mqscope://localhost", True)
    }
    assert {e["source"] for e in of(events, "routed")} == {"broker"}


def test_dead_letter_scenario_shows_reject_ttl_and_overflow_on_its_own(runs: dict[str, Run]) -> None:
    """The scenario's own script, as a user runs it, dead-letters for each of the three reasons."""
    events = runs["dead_letter"].events
    dead = {(e["reason"], e["queue"]) for e in of(events, "dead_lettered")}
    assert dead == {
        ("rejected", "orders_queue"),
        ("maxlen", "shipping"),
        ("expired", "shipping"),
    }
    assert all(e["queues"] == ["orders_dead"] for e in of(events, "dead_lettered"))
    assert len(of(events, "published")) < 10  # a handful of tokens, readable on screen


# -- every field of every kind ------------------------------------------------------------------
# Field specs: a type, a tuple of types, a set of allowed values, or a name checked in `_problem`.
MESSAGE, NO_MESSAGE, ANY_MSG = "message id", "no message", "message id or null"
FIELDS: dict[str, dict[str, Any]] = {
    "published": {
        "msg": MESSAGE,
        "exchange": "exchange",
        "routing_key": str,
        "body": "json",
        "headers": dict,
    },
    "routed": {
        "msg": MESSAGE,
        "exchange": "exchange",
        "routing_key": str,
        "queues": "sorted queues",
        "source": {"broker", "transport", "predicted"},
        "via_alternate": (str, type(None)),
        "rabbitmq_queues": "sorted queues or null",
    },
    "delivered": {
        "msg": MESSAGE,
        "queue": "queue",
        "consumer": "consumer",
        "redelivered": bool,
        "headers": dict,
        "properties": dict,
    },
    "acked": {"msg": MESSAGE, "queue": "queue", "consumer": "consumer"},
    "rejected": {
        "msg": MESSAGE,
        "queue": "queue",
        "consumer": "consumer",
        "action": {"requeue", "dead_letter", "drop"},
        "error": str,
    },
    "requeued": {"msg": MESSAGE, "queue": "queue", "reason": str},
    "dead_lettered": {
        "msg": MESSAGE,
        "queue": "queue",
        "reason": {"rejected", "expired", "maxlen"},
        "exchange": "exchange",
        "routing_key": str,
        "queues": "sorted queues",
    },
    "dropped": {"msg": MESSAGE, "queue": "queue", "reason": str},
    "expired": {"msg": MESSAGE, "queue": "queue"},
    "returned": {"msg": MESSAGE, "exchange": "exchange", "routing_key": str, "reason": str},
    "consumer_state": {
        "msg": NO_MESSAGE,
        "consumer": "consumer",
        "state": {"idle", "paused", "crashed", "stopped", "disconnected"},
        "detail": str,
    },
    "queue_depth": {"msg": NO_MESSAGE, "queue": "queue", "ready": "count", "unacked": "count"},
    "broker_status": {
        "msg": NO_MESSAGE,
        "broker": str,
        "state": {"connecting", "connected", "reconnecting", "disconnected", "error"},
        "faithful": bool,
        "detail": str,
    },
    "notice": {"msg": ANY_MSG, "level": {"info", "warning", "error"}, "text": str},
    "error": {"msg": ANY_MSG, "where": str, "error": str, "traceback": str},
    "topology": {
        "msg": NO_MESSAGE,
        "op": {"declare", "delete"},
        "kind": {"exchange", "queue", "binding", "consumer"},
    },
    "script_output": {"msg": NO_MESSAGE, "stream": {"stdout", "stderr"}, "text": str},
    "script_ended": {"msg": NO_MESSAGE, "script": str, "exit_code": int, "error": str, "traceback": str},
}
TOPOLOGY_ENTITY: dict[str, dict[str, Any]] = {
    "exchange": {"name": str},
    "queue": {"name": str},
    "binding": {"source": str, "destination": str, "routing_key": str, "arguments": dict},
    "consumer": {"name": str},
}
NOT_PRODUCED = {
    "error": "only a bug emits it (and headless then exits 1)",
    "script_output": "only --run emits it (tests/test_run_script.py)",
    "script_ended": "only --run emits it (tests/test_run_script.py)",
}
"""Kinds the runs below do not produce, and why; the coverage test says when one starts to appear."""


@dataclass(frozen=True)
class Names:
    """The scenario's entity names: event fields must name real ones."""

    exchanges: frozenset[str]
    queues: frozenset[str]
    consumers: frozenset[str]

    @classmethod
    def of(cls, scenario: str) -> Names:
        topology = load_scenario(scenario).topology
        return cls(
            frozenset(e.name for e in topology.exchanges) | {""},  # "" is the default exchange
            frozenset(q.name for q in topology.queues),
            frozenset(c.name for c in topology.consumers),
        )


def _problem(spec: Any, value: Any, names: Names, published: set[str]) -> str | None:
    """Why `value` breaks `spec`, or None when it fits."""
    if isinstance(spec, set):
        return None if value in spec else f"{value!r} is not one of {sorted(spec)}"
    if not isinstance(spec, str):
        return None if isinstance(value, spec) else f"{value!r} is not {spec}"

    def is_id(v: Any) -> bool:
        return isinstance(v, str) and v in published

    def queue_list(v: Any) -> bool:
        return isinstance(v, list) and v == sorted(v) and all(q in names.queues for q in v)

    def name_in(known: frozenset[str]) -> Callable[[Any], bool]:
        return lambda v: isinstance(v, str) and v in known

    fits: dict[str, Callable[[Any], bool]] = {
        MESSAGE: is_id,
        NO_MESSAGE: lambda v: v is None,
        ANY_MSG: lambda v: v is None or is_id(v),
        "exchange": name_in(names.exchanges),
        "queue": name_in(names.queues),
        "consumer": name_in(names.consumers),
        "sorted queues": queue_list,
        "sorted queues or null": lambda v: v is None or queue_list(v),
        "count": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "json": lambda v: v is not None,
    }
    return None if fits[spec](value) else f"is not a {spec}: {value!r}"


def test_every_event_has_every_field_of_its_kind_with_the_right_type(runs: dict[str, Run]) -> None:
    problems: list[str] = []
    for name, run in runs.items():
        names = Names.of(run.scenario)
        published: set[str] = set()
        for n, event in enumerate(run.events):
            kind = event.get("event")
            if kind == "published":  # every message event names a message published before it
                published.add(event.get("msg"))
            where = f"{name} event {n} ({kind})"
            if kind not in FIELDS:
                problems.append(f"{where}: unknown kind")
                continue
            if not isinstance(event.get("ts"), float):
                problems.append(f"{where}: ts {event.get('ts')!r} is not a number")
            specs = FIELDS[kind] | (TOPOLOGY_ENTITY.get(event.get("kind"), {}) if kind == "topology" else {})
            for field, spec in specs.items():
                if field not in event:
                    problems.append(f"{where}: no {field!r}")
                elif (why := _problem(spec, event[field], names, published)) is not None:
                    problems.append(f"{where}: {field} {why}")
    assert problems == []


def test_the_runs_produce_every_kind_of_the_contract(runs: dict[str, Run]) -> None:
    """So a kind that stops being emitted fails here, instead of its field checks passing vacuously."""
    seen = {e["event"] for run in runs.values() for e in run.events}
    assert seen == set(FIELDS) - set(NOT_PRODUCED)
    events = [e for run in runs.values() for e in run.events]
    assert [] in [e["queues"] for e in of(events, "routed")], "an unroutable message routes to []"
    assert {e["action"] for e in of(events, "rejected")} >= {"requeue", "dead_letter"}


def _kinds(cls: type[FlowEvent]) -> set[str]:
    return {k for sub in cls.__subclasses__() for k in (sub.kind, *_kinds(sub))}


def test_the_contract_table_names_every_kind_core_emits() -> None:
    """A new event kind in core.events needs its fields written down here (and produced above)."""
    assert _kinds(FlowEvent) - set(FIELDS) == set()
    # An entry for a kind core does not define is stale, unless it is one the runs cannot produce.
    assert set(FIELDS) - _kinds(FlowEvent) <= set(NOT_PRODUCED)
