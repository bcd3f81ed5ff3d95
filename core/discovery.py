"""Discovery: a live vhost's real topology, read through the management HTTP API and kept up to date.

A snapshot is the vhost's definitions (exchanges, queues, bindings, exchange-to-exchange ones too:
read by core.definitions, as an exported file would be), corrected by /api/queues (each queue's
type and the policy RabbitMQ really applies to it: `effective_policy_definition`, operator policies
included) and completed by /api/consumers: the consumers other programs run, as ConsumerSpecs marked
`foreign` (mqscope runs no loop for them and consumes nothing through them; their prefetch, ack mode
and x-priority are RabbitMQ's). Definitions' stand-in "worker" consumer is not added: the real
consumers are known.

Not drawn: the default exchange's implicit bindings (every queue has one, under its own name).
Routing still knows them: a message published to "" goes to the queue its key names, as in RabbitMQ.
Exclusive queues (and the server-named ones, `amq.gen-*`, mqscope's own tap queue among them) are
not in a vhost's definitions and are not shown.

The refresh loop runs on the one runner: every `every` seconds it reads a new snapshot, folds the
difference (core.topology_diff) in through `observe` as TopologyChanged events of origin
"discovered", and reports queue depths that changed as QueueDepth. A management API that goes away
mid-session is a BrokerStatus line, retried with core.reconnect's backoff; the last topology stays.
Nothing is ever written to the broker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from kombu.exceptions import OperationalError

from core.backends.base import Backend, Emit
from core.controls import StopCheck, sleep_interruptibly
from core.definitions import load_definitions, parse_definitions
from core.errors import InputError, one_line
from core.events import BrokerStatus, Notice, QueueDepth, TopologyChanged
from core.management import ManagementClient, ManagementRefused
from core.reconnect import BACKOFF, BackoffPolicy, reason
from core.scenario import Scenario
from core.text import visible
from core.topology import ConsumerSpec, Topology
from core.topology_changes import LiveTopology, TopologyChange, declarations
from core.topology_diff import topology_diff

DISCOVERED = "discovered"
"""The origin of every topology event discovery reports."""
DEFAULT_REFRESH_SECONDS = 3.0
_EFFECTIVE_PRIORITY = 10**9
"""Above any real policy's priority: the per-queue stand-in policy built from RabbitMQ's own
`effective_policy_definition` is the one core.definitions applies."""

Depths = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Snapshot:
    """One reading of the vhost: its topology (with what was left out in `scenario.notice`) and the
    ready / unacked count of each of its queues."""

    scenario: Scenario
    depths: Depths = field(default_factory=dict)

    @property
    def topology(self) -> Topology:
        return self.scenario.topology


def build_snapshot(
    definitions: Mapping[str, Any],
    queues: Sequence[Mapping[str, Any]],
    consumers: Sequence[Mapping[str, Any]],
    vhost: str,
    source: str,
) -> Snapshot:
    """A snapshot from the three replies (pure: the unit tests feed it recorded JSON)."""
    data = dict(definitions)
    data["queues"] = [_typed(entry, queues) for entry in _entries(data, "queues")]
    data["policies"] = _effective_policies(_entries(data, "policies"), queues)
    scenario = parse_definitions(json.dumps(data), source, vhost)
    known = {q.name for q in scenario.topology.queues}
    topology = replace(scenario.topology, consumers=foreign_consumers(consumers, known))
    if problems := topology.problems():
        raise InputError(f"{source}: {problems[0]}")
    depths = {
        str(q.get("name")): (_count(q.get("messages_ready")), _count(q.get("messages_unacknowledged")))
        for q in queues
        if q.get("name") in known
    }
    return Snapshot(replace(scenario, name="discovered", topology=topology, publishes=()), depths)


def read_snapshot(client: ManagementClient, vhost: str) -> Snapshot:
    """Read the vhost through the management API; ManagementError in one line.

    /api/definitions/{vhost} is for administrators only: a user with the management or monitoring
    tag gets 401 there, and the same topology is then put together from /api/exchanges and
    /api/bindings (the queues are read anyway). Exclusive queues are left out, as an export does.
    """
    source = f"{client.base_url} vhost {vhost}"
    queues = client.queues(vhost)
    try:
        definitions = client.definitions(vhost)
    except ManagementRefused:
        definitions = definitions_from_lists(client.exchanges(vhost), queues, client.bindings(vhost))
    return build_snapshot(definitions, queues, client.consumers(vhost), vhost, source)


def definitions_from_lists(
    exchanges: Sequence[Mapping[str, Any]],
    queues: Sequence[Mapping[str, Any]],
    bindings: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Definitions JSON from the vhost's lists (what a non-administrator may read): its exchanges
    (not the built-in ones) and queues, exclusive queues and their bindings left out, as an export does.
    Policies are not readable then; each queue's effective policy still comes from /api/queues."""
    shown = [q for q in queues if q.get("exclusive") is not True]
    names = {q.get("name") for q in shown}
    keep = ("name", "vhost", "type", "durable", "auto_delete", "internal", "arguments")
    return {
        "exchanges": [
            {k: e[k] for k in keep if k in e}
            for e in exchanges
            if e.get("name") != "" and not str(e.get("name", "")).startswith("amq.")
        ],
        "queues": [{k: q[k] for k in keep if k in q} for q in shown],
        "bindings": [
            b for b in bindings if b.get("destination_type") != "queue" or b.get("destination") in names
        ],
    }


def definitions_snapshot(scenario: Scenario) -> Snapshot:
    """A --definitions file's topology, without definitions' stand-in consumer (the file knows of
    no real ones, and mqscope runs none on a broker it only watches)."""
    topology = replace(scenario.topology, consumers=())
    return Snapshot(replace(scenario, topology=topology, publishes=()))


def foreign_consumers(entries: Sequence[Mapping[str, Any]], queues: set[str]) -> tuple[ConsumerSpec, ...]:
    """/api/consumers as ConsumerSpecs marked foreign: one per consumer of a shown queue, named by
    its consumer tag (with its channel when two channels use the same tag)."""
    found: list[tuple[str, str, Mapping[str, Any]]] = []
    for entry in entries:
        queue = entry.get("queue")
        name = queue.get("name") if isinstance(queue, dict) else None
        if name not in queues:
            continue
        channel = entry.get("channel_details")
        where = str(channel.get("name", "")) if isinstance(channel, dict) else ""
        found.append((str(entry.get("consumer_tag", "")), where, entry))
    tags = [tag for tag, _, _ in found]
    out: list[ConsumerSpec] = []
    for tag, channel, entry in found:
        name = tag if tags.count(tag) == 1 else f"{tag} @ {channel}"
        queue_name = str(entry["queue"]["name"])
        arguments = entry.get("arguments")
        priority = arguments.get("x-priority") if isinstance(arguments, dict) else None
        prefetch = entry.get("prefetch_count")
        out.append(
            ConsumerSpec(
                name=name,
                queues=(queue_name,),
                prefetch=prefetch if isinstance(prefetch, int) and 0 <= prefetch <= 65535 else 0,
                arguments={"x-priority": priority} if isinstance(priority, int) else {},
                foreign=True,
                auto_ack=entry.get("ack_required") is False,
            )
        )
    return tuple(sorted(out, key=lambda c: (c.queues, c.name)))


def _entries(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    return value if isinstance(value, list) else []


def _typed(entry: Any, queues: Sequence[Mapping[str, Any]]) -> Any:
    """The definitions entry with the queue type /api/queues reports (older exports have none)."""
    if not isinstance(entry, dict) or "type" in entry:
        return entry
    kind = next((q.get("type") for q in queues if q.get("name") == entry.get("name")), None)
    return {**entry, "type": kind} if isinstance(kind, str) else entry


def _effective_policies(policies: list[Any], queues: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The vhost's policies plus, per queue, RabbitMQ's own effective policy (operator policies
    merged) as an exact-name policy above all others: core.definitions then applies to each queue
    what RabbitMQ applies, not what its reading of the patterns would. A queue whose statistics have
    not come in yet (null there for a few seconds after it is declared) is left to the patterns."""
    out = list(policies)
    for q in queues:
        name, definition = q.get("name"), q.get("effective_policy_definition")
        if not isinstance(name, str) or not isinstance(definition, dict):
            continue  # not known yet (a new queue's statistics come later): the patterns decide
        out.append(
            {
                "name": str(q.get("policy") or "none"),
                "pattern": f"^{re.escape(name)}$",
                "apply-to": "queues",
                "definition": definition,
                "priority": _EFFECTIVE_PRIORITY,
            }
        )
    return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass(frozen=True)
class DiscoverySource:
    """Where discovery reads from: the first snapshot (read before anything starts, so a wrong URL
    is one line and exit 2), how to read the next (None: a --definitions file, read once), and how
    often."""

    first: Snapshot
    where: str
    """Shown in the status line: the management URL (no password) and vhost, or the file."""
    read: Callable[[], Snapshot] | None = None
    every: float = DEFAULT_REFRESH_SECONDS
    beside_tap: bool = False
    """A tap runs too: it reports the broker's status and reads exact queue depths itself, so
    discovery reports neither (its own troubles become notices)."""


class DiscoveryLoop:
    """Announces the discovered topology, then folds each refresh's difference in until stopped."""

    def __init__(
        self,
        source: DiscoverySource,
        live: LiveTopology,
        emit: Emit,
        observe: Callable[[TopologyChange], None],
        broker: str,
        *,
        policy: BackoffPolicy = BACKOFF,
    ) -> None:
        self.source, self.live, self.emit, self.observe = source, live, emit, observe
        self.broker, self.policy = broker, policy
        self._depths: Depths = {}

    def run(self, should_stop: StopCheck) -> None:
        self._status("connected", f"watching {self.source.where}: mqscope declares and consumes nothing")
        for change in declarations(self.live.current):  # the topology arrives as events, first
            self.emit(TopologyChanged(change=change, origin=DISCOVERED))
        self._report_depths(self.source.first.depths)
        read = self.source.read
        if read is None:
            while not should_stop():
                sleep_interruptibly(0.2, should_stop, None)
            return
        delays = None
        wait = self.source.every
        while not should_stop():
            sleep_interruptibly(wait, should_stop, None)
            if should_stop():
                return
            try:
                snapshot = read()
            except InputError as exc:  # went away, refused, or a reply we cannot read: retried
                delays = delays or self.policy.delays()
                wait = next(delays)
                self._status("disconnected", f"{one_line(exc)}; retrying in {wait:.1f}s")
                continue
            if delays is not None:
                delays, wait = None, self.source.every
                self._status("connected", f"watching {self.source.where} again")
            self.refresh(snapshot)

    def refresh(self, snapshot: Snapshot) -> list[TopologyChange]:
        """Fold one snapshot in: its topology's difference, then its depths. Returns the changes."""
        changes = topology_diff(self.live.current, snapshot.topology)
        for change in changes:
            self.observe(change)
        self._report_depths(snapshot.depths)
        return changes

    def _report_depths(self, depths: Depths) -> None:
        if self.source.beside_tap:
            return
        for queue, (ready, unacked) in depths.items():
            if self._depths.get(queue) != (ready, unacked):
                self._depths[queue] = (ready, unacked)
                self.emit(QueueDepth(queue=queue, ready=ready, unacked=unacked))

    def _status(self, state: str, detail: str) -> None:
        if self.source.beside_tap:
            level = "warning" if state == "disconnected" else "info"
            self.emit(Notice(level=level, text=f"discovery: {detail}"))
            return
        self.emit(BrokerStatus(broker=self.broker, state=state, faithful=True, detail=detail))


class DiscoveryError(InputError):
    """Discovery cannot start (no management API and no --definitions, a broker that refuses us):
    one line, never a password."""


def url_vhost(broker_url: str) -> str:
    """The vhost an amqp:// URL names, as kombu reads it (`/` when the path is empty or `//`)."""
    path = urlsplit(broker_url).path
    return (unquote(path[1:]) or "/") if path else "/"


def check_broker(backend: Backend) -> None:
    """One AMQP connection, opened and closed: a wrong host, port, user or password is said in one
    line (RabbitMQ's own words) before the management API is asked anything."""
    with backend.connection() as conn:
        try:
            conn.ensure_connection(max_retries=0)
        except (*conn.connection_errors, *conn.channel_errors, OperationalError) as exc:
            why = reason(exc, backend.url)
            raise DiscoveryError(f"cannot reach {backend.display_url()}: {why}") from None


def discovery_source(
    backend: Backend,
    vhost: str,
    *,
    management: str | None = None,
    definitions: str | None = None,
    every: float = DEFAULT_REFRESH_SECONDS,
) -> DiscoverySource:
    """Where discovery reads, with its first snapshot read now: --definitions FILE when given (read
    once), else the management API (--management URL, or the broker's host on port 15672)."""
    check_broker(backend)
    if definitions is not None:
        scenario = load_definitions(definitions, vhost)
        return DiscoverySource(definitions_snapshot(scenario), f"{visible(definitions)} (vhost {vhost})")
    client = ManagementClient.for_broker(backend.url, management)
    first = read_snapshot(client, vhost)
    return DiscoverySource(
        first, f"{client.base_url} vhost {vhost}", lambda: read_snapshot(client, vhost), every
    )
