"""Discovery's parsing and diff, on management API replies recorded from a real RabbitMQ 3.10 node
(tests/data/management, see tests/data/README.md), and its refresh loop and HTTP client's errors."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.backends.base import mask_password
from core.discovery import (
    DISCOVERED,
    DiscoveryLoop,
    DiscoverySource,
    Snapshot,
    build_snapshot,
    definitions_from_lists,
    url_vhost,
)
from core.events import BrokerStatus, FlowEvent, QueueDepth, TopologyChanged
from core.management import ManagementClient, ManagementError, ManagementUnreachable, vhost_path
from core.reconnect import BackoffPolicy
from core.routing import Binding
from core.topology import Topology
from core.topology_changes import LiveTopology, apply_change, declare
from core.topology_diff import topology_diff

DATA = Path(__file__).parent / "data" / "management"
VHOST = "disc_record"


def reply(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def recorded(later: bool = False) -> Snapshot:
    suffix = "_later" if later else ""
    return build_snapshot(
        reply(f"definitions{suffix}"), reply(f"queues{suffix}"), reply(f"consumers{suffix}"), VHOST, "rec"
    )


def same(a: Topology, b: Topology) -> bool:
    """Equal but for order (a refresh may list things in another order)."""

    def key(t: Topology) -> tuple[Any, ...]:
        return (
            sorted(repr(replace(e, bindings=tuple(sorted(e.bindings, key=repr)))) for e in t.exchanges),
            sorted(repr(replace(q, bindings=tuple(sorted(q.bindings, key=repr)))) for q in t.queues),
            sorted(repr(c) for c in t.consumers),
        )

    return key(a) == key(b)


def test_recorded_vhost_is_read_with_types_policies_and_exchange_bindings() -> None:
    topology = recorded().topology
    assert {e.name: e.type for e in topology.exchanges} == {
        "shop": "topic",
        "audit": "fanout",
        "by_header": "headers",
    }
    audit = topology.exchange("audit")
    assert audit is not None and [(b.exchange, b.routing_key) for b in audit.bindings] == [
        ("shop", "orders.#")
    ]
    created = topology.queue("orders.created")
    assert created is not None and created.arguments.get("x-queue-type") == "quorum"
    # The policy short_ttl (pattern ^orders\.) as RabbitMQ reports it in effective_policy_definition.
    assert (created.message_ttl, created.max_length) == (60.0, 1000)
    audit_log = topology.queue("audit_log")
    assert audit_log is not None and (audit_log.message_ttl, audit_log.max_length) == (None, None)
    eu = topology.queue("eu_only")
    assert eu is not None and dict(eu.bindings[0].arguments) == {"x-match": "all", "region": "eu"}
    # The default exchange's implicit bindings are not drawn; its routing still works.
    assert not any(b.exchange == "" for q in topology.queues for b in q.bindings)
    assert topology.binding_table.route("", "audit_log", {}).queues == ("audit_log",)


def test_recorded_consumers_are_foreign_with_prefetch_and_ack_mode() -> None:
    snapshot = recorded()
    consumers = {c.name: c for c in snapshot.topology.consumers}
    assert set(consumers) == {"audit-worker-1", "eu-2"}  # definitions' stand-in "worker" is not added
    worker, eu = consumers["audit-worker-1"], consumers["eu-2"]
    assert (worker.queues, worker.prefetch, worker.auto_ack, worker.foreign) == (
        ("audit_log",),
        5,
        False,
        True,
    )
    assert (eu.queues, eu.prefetch, eu.auto_ack, dict(eu.arguments)) == (
        ("eu_only",),
        0,
        True,
        {"x-priority": 5},
    )
    assert snapshot.depths["audit_log"] == (0, 4) and snapshot.depths["orders.created"] == (4, 0)
    fields = TopologyChanged(change=declare(worker)).to_json()
    assert (fields["foreign"], fields["ack"]) == (True, "manual")


def test_effective_policy_is_rabbitmqs_not_the_pattern() -> None:
    """A queue the pattern matches but RabbitMQ applies no policy to (e.g. a higher-priority policy
    with nothing mqscope models) has what RabbitMQ says: nothing."""
    queues = reply("queues")
    for q in queues:
        if q["name"] == "orders.dead":
            q["effective_policy_definition"] = {}
    snapshot = build_snapshot(reply("definitions"), queues, [], VHOST, "rec")
    dead = snapshot.topology.queue("orders.dead")
    assert dead is not None and (dead.message_ttl, dead.max_length) == (None, None)


def test_lists_give_what_definitions_give_without_exclusive_queues() -> None:
    """A non-administrator cannot read /api/definitions: the lists give the same topology; the
    exclusive (server-named) queue in the recording is left out, with its bindings."""
    queues = reply("queues_later")
    assert any(q["exclusive"] for q in queues)
    lists = definitions_from_lists(reply("exchanges_later"), queues, reply("bindings_later"))
    from_lists = build_snapshot(lists, queues, [], VHOST, "rec")
    assert same(from_lists.topology, recorded(later=True).topology)
    assert not any(q.name.startswith("amq.gen") for q in from_lists.topology.queues)


def test_diff_of_recorded_refresh_is_what_changed_and_folds_to_it() -> None:
    before, after = recorded().topology, recorded(later=True).topology
    changes = topology_diff(before, after)
    described = [(c.op, c.kind, c.name) for c in changes]
    assert ("declare", "binding", "shop -> orders.dead ('orders.failed')") in described
    assert ("delete", "queue", "eu_only") in described
    assert ("delete", "consumer", "audit-worker-1") in described
    folded = before
    for change in changes:
        folded = apply_change(folded, change)
    assert same(folded, after)
    assert topology_diff(after, after) == []
    assert topology_diff(folded, after) == []


def test_diff_redeclares_a_queue_whose_arguments_changed_with_its_bindings() -> None:
    before = recorded().topology
    queue = before.queue("orders.created")
    assert queue is not None
    after = replace(
        before, queues=tuple(replace(q, max_length=5) if q is queue else q for q in before.queues)
    )
    changes = topology_diff(before, after)
    assert [(c.op, c.kind) for c in changes] == [
        ("delete", "queue"),
        ("declare", "queue"),
        ("declare", "binding"),
    ]
    assert isinstance(changes[2].entity, Binding) and changes[2].entity.destination == "orders.created"


def test_refresh_loop_reports_changes_depths_and_a_lost_api() -> None:
    first, later = recorded(), recorded(later=True)
    reads: list[Any] = [ManagementUnreachable("no management API at http://127.0.0.1:1"), later]
    events: list[FlowEvent] = []
    live = LiveTopology(first.topology)

    def read() -> Snapshot:
        got = reads.pop(0) if reads else later
        if isinstance(got, Exception):
            raise got
        return got

    def observe(change: Any) -> None:
        live.apply(change)
        events.append(TopologyChanged(change=change, origin=DISCOVERED))

    source = DiscoverySource(first, "rec", read, every=0.001)
    loop = DiscoveryLoop(
        source,
        live,
        events.append,
        observe,
        "amqp://guest:***@h//",
        policy=BackoffPolicy(start=0.001, cap=0.001),
    )
    loop.run(lambda: not reads and same(live.current, later.topology))
    states = [e.state for e in events if isinstance(e, BrokerStatus)]
    assert states == ["connected", "disconnected", "connected"]
    lost = next(e for e in events if isinstance(e, BrokerStatus) and e.state == "disconnected")
    assert "no management API at http://127.0.0.1:1" in lost.detail and "retrying" in lost.detail
    topology = [e for e in events if isinstance(e, TopologyChanged)]
    assert all(e.origin == DISCOVERED for e in topology)
    assert len(topology) > len(first.topology.exchanges)  # the first topology, then the change
    assert same(live.current, later.topology)
    depths = {e.queue: (e.ready, e.unacked) for e in events if isinstance(e, QueueDepth)}
    assert depths["orders.created"] == later.depths["orders.created"]


def test_client_defaults_to_the_brokers_host_and_credentials() -> None:
    client = ManagementClient.for_broker("amqp://alice:s%2Fcret@rabbit.example:5672/prod")
    assert (client.base_url, client.user, client.password) == (
        "http://rabbit.example:15672",
        "alice",
        "s/cret",
    )
    assert "s/cret" not in repr(client)
    given = ManagementClient.for_broker("amqp://a:b@h//", "https://bob:pw@mgmt.example:8443/rabbit/")
    assert (given.base_url, given.user, given.password) == ("https://mgmt.example:8443/rabbit", "bob", "pw")
    assert vhost_path("/") == "%2F" and vhost_path("a b/c") == "a%20b%2Fc"
    assert (
        url_vhost("amqp://h//") == "/"
        and url_vhost("amqp://h/") == "/"
        and url_vhost("amqp://h/%2Fx") == "/x"
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_management_api_is_one_line_naming_the_fix_without_the_password() -> None:
    port = _closed_port()
    client = ManagementClient.for_broker("amqp://u:TOPSECRET@h//", f"http://u:TOPSECRET@127.0.0.1:{port}")
    with pytest.raises(ManagementUnreachable) as caught:
        client.queues("/")
    text = str(caught.value)
    fix = "(enable rabbitmq_management, or give --definitions FILE)"
    assert text == f"no management API at http://127.0.0.1:{port} {fix}"
    assert "TOPSECRET" not in text


@pytest.mark.parametrize("url", ["ftp://u:TOPSECRET@h", "http://u:TOPSECRET@h:notaport", "http://h:1/?x=1"])
def test_bad_management_url_is_one_line_without_the_password(url: str) -> None:
    with pytest.raises(ManagementError) as caught:
        ManagementClient.for_broker("amqp://h//", url)
    assert "TOPSECRET" not in str(caught.value) and "\n" not in str(caught.value)
    assert mask_password(url) in str(caught.value)
