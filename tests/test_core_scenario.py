"""Scenario TOML: built-ins load, and every kind of bad input names the file, the entry and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.scenario import ScenarioError, builtin_names, load_scenario, parse_scenario
from core.topology import ExchangeSpec, QueueSpec, Topology

SEED_HEAD = """
[[exchanges]]
name = "media_exchange"
type = "topic"
"""


def test_builtins_load() -> None:
    assert {"seed", "dead_letter", "headers", "twelve"} <= set(builtin_names())
    for name in builtin_names():
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.topology.queues


def test_seed_is_the_tutorial() -> None:
    seed = load_scenario("seed")
    topology = seed.topology
    assert [(e.name, e.type) for e in topology.exchanges] == [("media_exchange", "topic")]
    assert [(q.name, q.bindings[0].routing_key) for q in topology.queues] == [
        ("video_queue", "video.#"),
        ("audit_queue", "#"),
    ]
    worker = topology.consumers[0]
    assert (worker.queues, worker.prefetch, worker.work_seconds) == (
        ("video_queue", "audit_queue"),
        1,
        0.5,
    )
    assert [(p.routing_key, p.body) for p in seed.publishes] == [
        ("video.upload", {"file": "movie.mp4"}),
        ("user.login", {"user": "admin"}),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[exchanges]\nname = 1", "not valid TOML"),
        ('[[exchanges]]\nname = "x"\ntype = "topix"', "exchanges[1] ('x'): exchange type 'topix'"),
        ('[[exchanges]]\nname = "x"\ncolour = "red"', "unknown field 'colour'"),
        ("[[exchanges]]\nname = 5", "exchanges[1]: name must be a string, not int"),
        ("[[queues]]\nbindings = []", "queues[1]: missing required field 'name'"),
        (
            SEED_HEAD + '[[queues]]\nname = "q"\nbindings = [{ exchange = "nope", routing_key = "a" }]',
            "queue 'q' binding 'a': unknown exchange 'nope'",
        ),
        (SEED_HEAD + '[[exchanges]]\nname = "media_exchange"', "exchange 'media_exchange': declared twice"),
        (SEED_HEAD + f'[[queues]]\nname = "{"q" * 256}"', "AMQP allows at most 255"),
        (
            SEED_HEAD
            + '[[queues]]\nname = "q"\n'
            + f'bindings = [{{ exchange = "media_exchange", routing_key = "{"a." * 128}" }}]',
            "binding key is 256 bytes",
        ),
        (SEED_HEAD + '[[consumers]]\nname = "w"\nqueues = ["ghost"]', "consumer 'w': unknown queue 'ghost'"),
        (
            SEED_HEAD + '[[consumers]]\nname = "w"\nqueues = "q"',
            "queues must be an array of queue names, not a string",
        ),
        (
            SEED_HEAD
            + '[[queues]]\nname = "q"\n[[consumers]]\nname = "w"\nqueues = ["q"]\non_failure = "explode"',
            "on_failure 'explode' is not one of requeue, dead_letter, drop",
        ),
        (
            SEED_HEAD + '[[consumers]]\nname = "w"\nqueues = ["q"]\nprefetch = true',
            "prefetch must be an integer, not a boolean",
        ),
        (SEED_HEAD + '[[publish]]\nexchange = "elsewhere"', "publish[1]: unknown exchange 'elsewhere'"),
        (
            SEED_HEAD + f'[[publish]]\nexchange = "media_exchange"\nrouting_key = "{"k" * 300}"',
            "routing key is 300 bytes",
        ),
        (
            SEED_HEAD + '[[publish]]\nexchange = "media_exchange"\nafter = -1',
            "after must be between 0 and 86400 seconds",
        ),
        ("[bogus]\nx = 1", "unknown section 'bogus'"),
        (
            '[[queues]]\nname = "q"\ndead_letter_exchange = "dlx"',
            "dead-letter exchange 'dlx' is not declared",
        ),
    ],
)
def test_bad_scenarios_say_where_and_why(text: str, fragment: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "bad.toml")
    message = str(info.value)
    assert message.startswith("bad.toml: ")
    assert fragment in message
    assert "\n" not in message


def test_missing_file_lists_builtins(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"built-in: .*seed"):
        load_scenario(str(tmp_path / "absent.toml"))


def test_scenario_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        SEED_HEAD
        + '[[queues]]\nname = "all"\nbindings = [{ exchange = "media_exchange", routing_key = "#" }]\n'
    )
    scenario = load_scenario(str(path))
    assert scenario.name == "mine"
    assert scenario.topology.binding_table.route("media_exchange", "").queues == ("all",)


def test_alternate_exchange_loop_terminates() -> None:
    topology = Topology(
        exchanges=(
            ExchangeSpec("a", "direct", alternate_exchange="b"),
            ExchangeSpec("b", "direct", alternate_exchange="a"),
        ),
        queues=(QueueSpec("q"),),
    ).validate()
    assert topology.binding_table.route("a", "nothing").queues == ()


def test_queue_arguments_reach_rabbitmq_names() -> None:
    spec = load_scenario("dead_letter").topology.queue("orders_queue")
    assert spec is not None
    assert spec.queue_arguments() == {
        "x-dead-letter-exchange": "orders.dlx",
        "x-message-ttl": 5000,
        "x-max-length": 20,
    }
