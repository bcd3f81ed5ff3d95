"""RabbitMQ definitions JSON read as a scenario: one vhost, policies applied as RabbitMQ applies them,
everything else listed in one notice; bad JSON and a missing vhost are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.definitions import IMPORTED_CONSUMER, parse_definitions
from core.scenario import ScenarioError
from core.scenario_files import open_scenario
from core.topology import BindingSpec, ExchangeSpec, QueueSpec

SHOP = Path(__file__).parent / "data" / "definitions_shop.json"


def _definitions(**sections: Any) -> str:
    return json.dumps(sections)


def _policy(name: str, pattern: str, apply_to: str, priority: int, definition: Any) -> dict[str, Any]:
    fields = {"name": name, "pattern": pattern, "apply-to": apply_to}
    return {**fields, "priority": priority, "definition": definition}


def test_realistic_export_reads_one_vhost_with_its_policies() -> None:
    scenario = open_scenario(str(SHOP))
    topology = scenario.topology
    assert topology.exchanges == (
        ExchangeSpec("shop.events", "topic", True, "shop.unrouted"),
        ExchangeSpec("shop.unrouted", "fanout"),
        ExchangeSpec("shop.dlx", "direct"),
        # the exchange-to-exchange binding is the destination exchange's
        ExchangeSpec("audit.fanout", "fanout", bindings=(BindingSpec("shop.events", "#"),)),
        # a policy that applies to exchanges gives it an alternate exchange; the higher-priority
        # `legacy-queues` policy applies to queues only, so it does not take its place
        ExchangeSpec("legacy", "headers", True, "shop.unrouted"),
    )
    queues = {q.name: q for q in topology.queues}
    assert list(queues) == [
        "orders.created",
        "orders.shipped",
        "orders.dead",
        "payments",
        "unrouted",
        "audit",
        "invoices",
        "retry",
        "jobs.priority",
    ]
    # argument wins for the dead-letter exchange; the policy fills in the routing key; the smaller TTL
    assert queues["orders.created"] == QueueSpec(
        "orders.created",
        (BindingSpec("shop.events", "order.created"),),
        dead_letter_exchange="shop.dlx",
        dead_letter_routing_key="expired",
        message_ttl=30.0,
    )
    assert (queues["orders.shipped"].dead_letter_exchange, queues["orders.shipped"].message_ttl) == (
        "shop.unrouted",
        30.0,
    )
    # both `orders-dlx` and `dead-limit` match: only the higher priority applies, nothing of the other
    dead = queues["orders.dead"]
    assert (dead.dead_letter_exchange, dead.message_ttl, dead.max_length) == (None, None, 1000)
    assert queues["payments"].max_length == 50  # min(argument 100, policy 50)
    # the argument wins for overflow; the smaller wins for the byte limit; x-queue-mode is not modelled
    assert queues["payments"].arguments == {"x-overflow": "reject-publish", "x-max-length-bytes": 4096}
    # a quorum queue stays one; a quorum_queues policy's smaller delivery limit and its expiry apply
    assert queues["retry"].arguments == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 3,
        "x-expires": 600000,
    }
    assert queues["jobs.priority"] == QueueSpec(
        "jobs.priority",
        (BindingSpec("shop.events", "job.#"),),
        arguments={"x-max-priority": 10, "x-single-active-consumer": True, "x-expires": 1800000},
    )
    assert queues["audit"].durable is False
    assert queues["invoices"].bindings == (
        BindingSpec("legacy", "", {"x-match": "any", "type": "invoice", "format": "pdf"}),
    )
    assert queues["retry"].bindings == ()  # its only binding came from an exchange type not modelled
    (consumer,) = topology.consumers
    assert consumer.name == IMPORTED_CONSUMER and consumer.queues == tuple(queues)
    assert scenario.publishes == ()


def test_what_cannot_be_used_is_listed_in_one_notice() -> None:
    notice = open_scenario(str(SHOP)).notice
    assert notice is not None and "\n" not in notice
    assert notice.startswith(f"{SHOP}: not used (12): 2 users; 3 permissions; 1 topic permission;")
    for part in (
        "1 parameter",
        "2 global parameters",
        "policy 'limits' key 'ha-mode'",
        "exchange 'audit.fanout' internal",
        "exchange 'delayed' of type 'x-delayed-message'",
        "queue 'payments' argument 'x-queue-mode'",
        "binding 'amq.topic' -> 'audit' 'mqtt.#' (its exchange is not used)",
        "4 entries of other vhosts",
    ):
        assert part in notice
    for used in ("x-overflow", "quorum", "exchange to exchange", "x-max-priority", "x-delivery-limit"):
        assert used not in notice


def test_vhost_picks_the_other_vhost_and_its_policy() -> None:
    scenario = open_scenario(str(SHOP), vhost="staging")
    (queue,) = scenario.topology.queues
    assert queue == QueueSpec("staging.orders", (BindingSpec("shop.events", "order.#"),), message_ttl=1.0)
    assert [e.name for e in scenario.topology.exchanges] == ["shop.events"]
    assert scenario.notice is not None and "32 entries of other vhosts" in scenario.notice


def test_missing_vhost_is_one_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        open_scenario(str(SHOP), vhost="prod")
    assert str(caught.value) == (
        f"{SHOP}: no vhost 'prod' in the file (it has '/', 'staging'); pick one with --vhost"
    )


def test_bad_json_says_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "defs.json"
    path.write_text('{\n  "queues": [\n    {"name": "a",}\n  ]\n}\n')
    with pytest.raises(ScenarioError) as caught:
        open_scenario(str(path))
    assert str(caught.value) == (
        f"{path}: not valid JSON: Expecting property name enclosed in double quotes at line 3 column 18"
    )


def test_json_that_is_not_definitions_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"not RabbitMQ definitions"):
        parse_definitions("[1, 2]", "x.json")
    with pytest.raises(ScenarioError, match=r"not valid JSON: NaN is not a JSON number"):
        parse_definitions('{"queues": [{"name": "q", "arguments": {"x-max-length": NaN}}]}', "x.json")


def test_one_vhost_export_has_no_vhost_fields() -> None:
    """The management UI's per-vhost download names no vhost: it is read as the one asked for."""
    text = _definitions(
        exchanges=[{"name": "e", "type": "direct", "arguments": {}}],
        queues=[{"name": "q", "arguments": {"x-max-length": 3}}],
        bindings=[{"source": "e", "destination": "q", "destination_type": "queue", "routing_key": "k"}],
    )
    scenario = parse_definitions(text, "one.json", vhost="anything")
    assert scenario.topology.queues == (QueueSpec("q", (BindingSpec("e", "k"),), max_length=3),)
    assert scenario.notice is None


def test_undeclared_dead_letter_and_alternate_exchanges_are_dropped_and_said() -> None:
    """RabbitMQ drops dead letters to a missing exchange, and treats a missing alternate as none."""
    text = _definitions(
        exchanges=[{"name": "e", "type": "topic", "arguments": {"alternate-exchange": "gone"}}],
        queues=[{"name": "q", "arguments": {"x-dead-letter-exchange": "missing"}}],
    )
    scenario = parse_definitions(text, "d.json")
    assert scenario.topology.exchanges == (ExchangeSpec("e", "topic"),)
    assert scenario.topology.queues[0].dead_letter_exchange is None
    assert scenario.notice is not None
    assert "exchange 'e' alternate exchange 'gone', not in the file" in scenario.notice
    assert "queue 'q' dead-letter exchange 'missing', not in the file" in scenario.notice


def test_policy_pattern_is_searched_and_ties_go_to_the_first() -> None:
    text = _definitions(
        queues=[{"name": "app.orders.v2", "arguments": {}}],
        policies=[
            _policy("a", "orders", "queues", 2, {"max-length": 5}),
            _policy("b", "v2$", "all", 2, {"max-length": 9}),
            _policy("c", "^x", "queues", 9, {"max-length": 1}),
        ],
    )
    (queue,) = parse_definitions(text, "p.json").topology.queues
    assert queue.max_length == 5


def test_a_value_rabbitmq_would_refuse_is_listed_not_used() -> None:
    text = _definitions(queues=[{"name": "q", "arguments": {"x-message-ttl": "soon", "x-max-length": -1}}])
    scenario = parse_definitions(text, "v.json")
    assert (scenario.topology.queues[0].message_ttl, scenario.topology.queues[0].max_length) == (None, None)
    assert scenario.notice == "v.json: not used (2): queue 'q' message-ttl 'soon'; queue 'q' max-length -1"


def test_a_topology_problem_is_one_line_naming_the_file() -> None:
    text = _definitions(exchanges=[{"name": "bad\x1bname", "type": "topic"}])
    with pytest.raises(ScenarioError) as caught:
        parse_definitions(text, "c.json")
    assert str(caught.value).startswith("c.json: exchange 'bad\\x1bname': exchange names must not hold")


def test_policies_set_the_modelled_arguments_with_rabbitmqs_precedence() -> None:
    """Overflow: the argument wins; max-length-bytes, expires, delivery-limit: the smaller wins."""
    text = _definitions(
        queues=[
            {"name": "a", "arguments": {"x-overflow": "reject-publish-dlx", "x-expires": 5}},
            {"name": "b", "arguments": {"x-queue-type": "quorum", "x-delivery-limit": 2}},
            {"name": "c", "arguments": {"x-max-priority": 300}},
        ],
        policies=[
            _policy("all", ".", "queues", 0, {"overflow": "drop-head", "expires": 9, "max-length-bytes": 10}),
            _policy("q", "^b$", "quorum_queues", 1, {"delivery-limit": 7, "overflow": "reject-publish"}),
        ],
    )
    scenario = parse_definitions(text, "p.json")
    a, b, c = scenario.topology.queues
    assert a.arguments == {"x-overflow": "reject-publish-dlx", "x-expires": 5, "x-max-length-bytes": 10}
    assert b.arguments == {"x-queue-type": "quorum", "x-delivery-limit": 2, "x-overflow": "reject-publish"}
    # a value RabbitMQ would refuse is listed, not used
    assert c.arguments == {"x-overflow": "drop-head", "x-expires": 9, "x-max-length-bytes": 10}
    assert scenario.notice == "p.json: not used (1): queue 'c' max-priority 300"


def test_exchange_to_exchange_binding_needs_both_exchanges() -> None:
    text = _definitions(
        exchanges=[{"name": "up", "type": "topic"}, {"name": "down", "type": "fanout"}],
        bindings=[
            {"source": "up", "destination": "down", "destination_type": "exchange", "routing_key": "a.#"},
            {"source": "up", "destination": "gone", "destination_type": "exchange", "routing_key": "b"},
        ],
    )
    scenario = parse_definitions(text, "e.json")
    down = ExchangeSpec("down", "fanout", bindings=(BindingSpec("up", "a.#"),))
    assert scenario.topology.exchanges[1] == down
    assert scenario.notice == "e.json: not used (1): binding 'up' -> 'gone' 'b' (its exchange is not used)"
