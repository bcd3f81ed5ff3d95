"""Tap mode: watch an existing exchange's traffic on RabbitMQ without consuming anyone's messages.

mqscope declares nothing of the system it watches. It checks the exchange exists (passively), then
binds a queue of its own (server-named, exclusive, auto-delete: it vanishes with the connection) and
reads copies from it with no-ack. How it binds depends on the exchange type:
  topic   -> "#"                          (every routing key)
  fanout  -> ""                           (fanout ignores the key)
  headers -> no arguments (x-match all of nothing: every message)
  direct  -> each binding key known for that exchange (scenario file or discovery; no wildcard)
  unknown -> "#" with no arguments: catches everything on topic, fanout and headers exchanges
AMQP cannot tell a client an exchange's type, so it comes from discovery (the management API or a
--definitions file: core.discovery), the scenario file, or `--tap NAME:TYPE`.
Only JSON bodies are decoded; anything else is shown by size and content type, never deserialized.

Settling what it sees: a tapped copy has no consumer of mqscope's, and RabbitMQ says nothing when
another program takes it. The tap reads each queue's ready count passively (exact, and on its own
thread) and settles by this rule: queues hand out in order, so once a queue's ready count is below
the number of tapped copies open in it, the oldest of them were delivered to its consumers, and they
are settled (delivered and acked by the queue's consumer, or "others" when none is known). Each queue
is its own process on the broker, so the tap's copy can arrive before the queue's copy is counted: a
reading only settles copies seen at least ENQUEUE_GRACE_SECONDS before it was asked for, and counts
the younger ones as possibly not there yet (it may settle late, never falsely). A copy in a queue
that nobody consumes stays there, as it does on the broker. Priority queues break the order; the
count still holds.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Consumer, Message, Queue

from core.backends.base import Backend, Emit
from core.controls import StopCheck
from core.errors import InputError, one_line
from core.events import Acked, BrokerStatus, Delivered, Notice, Published, QueueDepth, Routed
from core.reconnect import Reconnect, reason
from core.scenario import Scenario
from core.topology import EXCHANGE_TYPES, ExchangeSpec, Topology, as_exchange_type
from core.topology_changes import LiveTopology

DEPTH_POLL_SECONDS = 0.5
ENQUEUE_GRACE_SECONDS = 0.5
"""How long after the tap saw a copy a ready count surely includes the queue's own copy (module doc)."""
OTHERS = "others"
"""Who took a tapped copy from a queue when no consumer of it is known (the ledger's consumer name)."""
SETTLE_RULE = (
    "tap: a copy counts as consumed once its queue's ready count falls below the copies seen "
    "entering it (oldest first); copies in a queue nobody consumes stay there"
)


class TapError(InputError):
    """A tap that cannot work (bad --tap value, missing exchange, non-AMQP broker): one line."""


@dataclass(frozen=True)
class TapSpec:
    """Which exchange to watch and, when known, its type."""

    exchange: str
    type: str | None = None

    @classmethod
    def parse(cls, text: str) -> TapSpec:
        """`NAME` or `NAME:TYPE` (a name may itself contain ':', the last part is the type if valid)."""
        name, sep, kind = text.rpartition(":")
        if sep and kind in EXCHANGE_TYPES and name:
            return cls(name, kind)
        if not text or text.startswith("amq.gen"):
            raise TapError(f"--tap needs an exchange name, not {text!r}")
        return cls(text, None)


def tap_scenario(spec: TapSpec, scenario: Scenario | None) -> Scenario:
    """The scenario whose topology explains the tapped traffic: the file's, or the exchange alone."""
    if scenario is not None:
        known = scenario.topology.exchange(spec.exchange)
        if known is None:
            raise TapError(f"--tap {spec.exchange!r}: the scenario {scenario.name!r} has no such exchange")
        if spec.type is not None and spec.type != known.type:
            raise TapError(f"--tap {spec.exchange!r}: the scenario says it is {known.type}, not {spec.type}")
        return scenario
    kind = as_exchange_type(spec.type or "topic")
    topology = Topology(exchanges=(ExchangeSpec(spec.exchange, kind),), queues=())
    return Scenario(name="tap", title=f"tap on {spec.exchange}", topology=topology, publishes=())


def tap_bindings(spec: TapSpec, topology: Topology) -> list[tuple[str, dict[str, Any]]]:
    """(routing key, arguments) pairs that make the tap queue see every message (see module doc)."""
    known = topology.exchange(spec.exchange)
    kind = spec.type or (known.type if known else None)
    if kind == "topic":
        return [("#", {})]
    if kind == "fanout":
        return [("", {})]
    if kind == "headers":
        return [("", {})]
    if kind == "direct":  # the keys of its bindings to queues and to other exchanges
        bindings = [b for q in topology.queues for b in q.bindings]
        bindings += [b for e in topology.exchanges for b in e.bindings]
        keys = sorted({b.routing_key for b in bindings if b.exchange == spec.exchange})
        return [(k, {}) for k in keys]
    return [("#", {})]


class TapLoop:
    """Connects, binds mqscope's own queue to the exchange, and emits Published for every copy seen."""

    def __init__(
        self,
        spec: TapSpec,
        topology: Topology,
        backend: Backend,
        emit: Emit,
        *,
        live: LiveTopology | None = None,
    ) -> None:
        """`live`: the topology as discovery keeps it up to date (routes are predicted on it as it is
        now); else `topology`, as the scenario file has it."""
        self.spec, self.topology, self.backend, self.emit = spec, topology, backend, emit
        self.live = live
        self._ids = itertools.count(1)
        self._predicts = bool(topology.queues)  # a scenario file: say where each copy went
        self.open: dict[str, deque[tuple[str, float]]] = {}
        """Per queue, the tapped copies routed into it and not yet settled, oldest first, each with
        the monotonic time the tap saw it."""
        self.tapping = False
        """True once the tap queue was bound: from then on a lost broker is retried, not fatal."""

    def run(self, should_stop: StopCheck) -> None:
        """Tap until stopped; a lost broker is retried with backoff (the tap queue is re-made)."""
        if not getattr(self.backend, "detects_returns", False):
            raise TapError("--tap needs a RabbitMQ broker: --broker amqp://user:pass@host:port/vhost")
        bindings = tap_bindings(self.spec, self.topology)
        if not bindings:
            raise TapError(
                f"--tap {self.spec.exchange!r} is a direct exchange: give a scenario listing its keys"
            )
        self._status("connecting", self.backend.name)
        supervisor = Reconnect(self.backend, self._retrying, unreachable=self._unreachable)
        supervisor.run(lambda conn: self._tap(conn, bindings, should_stop), should_stop)

    def _retrying(self, exc: BaseException, delay: float, connected_once: bool) -> None:
        state = "reconnecting" if connected_once else "connecting"
        self._status(state, f"{reason(exc, self.backend.url)}; retrying in {delay:.1f}s")

    def _unreachable(self, why: str) -> BaseException:
        """Never got going (wrong host, port, password, vhost): one line, the password masked."""
        return TapError(f"cannot tap via {self.backend.display_url()}: {why}")

    def _tap(
        self, conn: Connection, bindings: list[tuple[str, dict[str, Any]]], should_stop: StopCheck
    ) -> None:
        channel = conn.channel()
        try:
            channel.exchange_declare(exchange=self.spec.exchange, type="topic", passive=True)
        except conn.channel_errors as exc:
            raise TapError(f"--tap {self.spec.exchange!r}: {one_line(exc)}") from None
        name, _ready, _consumers = channel.queue_declare(
            queue="", exclusive=True, auto_delete=True, durable=False
        )
        for key, arguments in bindings:
            channel.queue_bind(queue=name, exchange=self.spec.exchange, routing_key=key, arguments=arguments)
        consumer = Consumer(
            channel,
            queues=[Queue(name, no_declare=True)],
            callbacks=[self._on_message],
            on_decode_error=self._on_undecodable,
            accept=["json"],
            no_ack=True,
        )
        consumer.consume()
        self.tapping = True
        keys = ", ".join(repr(k) for k, _ in bindings)
        self._status("connected", f"tapping {self.spec.exchange} through {name} (bound with {keys})")
        depths = _DepthWatch(conn, self._current, self.backend, self.emit, self._settle)
        while not should_stop():
            depths.poll()
            try:
                conn.drain_events(timeout=0.1)
            except TimeoutError:
                continue

    def _current(self) -> Topology:
        return self.live.current if self.live is not None else self.topology

    def _settle(self, queue: str, ready: int, asked_at: float) -> None:
        """The queue held `ready` copies when asked at `asked_at`: of the tapped copies surely in it
        by then, those beyond that count were taken (module doc)."""
        waiting = self.open.get(queue)
        if not waiting:
            return
        surely_in = sum(1 for _, seen_at in waiting if seen_at <= asked_at - ENQUEUE_GRACE_SECONDS)
        taken = surely_in - ready
        if taken <= 0:
            return
        spec = next((c for c in self._current().consumers if queue in c.queues), None)
        consumer = spec.name if spec is not None else OTHERS
        for _ in range(taken):
            msg, _seen_at = waiting.popleft()
            self.emit(Delivered(msg=msg, queue=queue, consumer=consumer))
            self.emit(Acked(msg=msg, queue=queue, consumer=consumer))

    def _status(self, state: str, detail: str) -> None:
        self.emit(BrokerStatus(broker=self.backend.display_url(), state=state, faithful=True, detail=detail))

    def _msg_id(self, message: Message) -> str:
        given = message.properties.get("message_id")
        return f"tap{next(self._ids)}" + (f":{given}" if given else "")

    def _on_message(self, body: Any, message: Message) -> None:
        self._report(message, body)

    def _on_undecodable(self, message: Message, exc: Exception) -> None:
        """Non-JSON traffic is shown by size and type only: it is never deserialized."""
        size = len(message.body) if message.body is not None else 0
        self._report(message, f"<{message.content_type or 'unknown'} body, {size} bytes, not decoded>")

    def _report(self, message: Message, body: Any) -> None:
        msg = self._msg_id(message)
        key = str(message.delivery_info.get("routing_key", ""))
        exchange = str(message.delivery_info.get("exchange", self.spec.exchange))
        headers = dict(message.headers or {})
        self.emit(Published(msg=msg, exchange=exchange, routing_key=key, body=body, headers=headers))
        if not self._predicts:
            return
        try:
            queues = self._current().binding_table.route(exchange, key, headers).queues
        except KeyError as exc:
            self.emit(Notice(msg=msg, level="warning", text=f"cannot predict routing: {exc}"))
            return
        self.emit(Routed(msg=msg, exchange=exchange, routing_key=key, queues=queues, source="predicted"))
        if queues and not self.open:
            self.emit(Notice(level="info", text=SETTLE_RULE))
        for queue in queues:
            self.open.setdefault(queue, deque()).append((msg, time.monotonic()))


class _DepthWatch:
    """Ready counts of the scenario's queues on the watched system (passive: never creates one).

    AMQP does not tell a client how many copies other consumers hold unacked: unacked is reported 0.
    """

    def __init__(
        self,
        conn: Connection,
        topology: Callable[[], Topology],
        backend: Backend,
        emit: Emit,
        settle: Callable[[str, int, float], None],
    ) -> None:
        self.conn, self.topology, self.backend, self.emit, self.settle = conn, topology, backend, emit, settle
        self.missing: set[str] = set()
        """Queues the broker said are not there: not asked about again (until discovery shows a
        new topology)."""
        self.seen: Topology | None = None
        self.channel: Any = None
        self.next_poll = 0.0
        self.last: dict[str, int] = {}

    def poll(self) -> None:
        if time.monotonic() < self.next_poll:
            return
        self.next_poll = time.monotonic() + DEPTH_POLL_SECONDS
        topology = self.topology()
        if topology is not self.seen:
            self.seen, self.missing = topology, set()
        for name in [q.name for q in topology.queues if q.name not in self.missing]:
            if self.channel is None:
                self.channel = self.conn.channel()
            asked_at = time.monotonic()
            try:
                ready, _unacked = self.backend.queue_depth(self.channel, name)
            except self.conn.channel_errors:
                self.channel = None  # that queue is not on the broker: stop asking about it
                self.missing.add(name)
                continue
            if self.last.get(name) != ready:
                self.last[name] = ready
                self.emit(QueueDepth(queue=name, ready=ready, unacked=0))
            self.settle(name, ready, asked_at)
