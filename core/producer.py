"""The producer loop: declare, publish the script and the user's messages, poll queue depths.

It runs in its own thread with its own connection, under the reconnect supervisor (core.reconnect):
a wrong URL fails in one line; once connected, a lost broker is retried with backoff for ever, the
topology re-declared, and the message that was being published when the broker went away is sent
again until the broker has it (confirmed, where confirms are on). It is given exactly what it uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from amqp.exceptions import MessageNacked
from kombu import Connection, Producer

from core.backends import BrokerUrlError
from core.backends.base import Backend, Emit
from core.controls import Clock, StepGate, StopCheck
from core.events import (
    RESENT,
    BrokerStatus,
    Dropped,
    Notice,
    Published,
    QueueDepth,
    Returned,
    Routed,
    TopologyChanged,
)
from core.json_body import CONTENT_ENCODING, CONTENT_TYPE, kombu_json_in_use
from core.json_body import dumps as json_dumps
from core.publishing import PublishRequest, Request, RequestQueue, TopologyRequest
from core.reconnect import Reconnect, reason
from core.topology import PublishStep, Topology
from core.topology_apply import perform
from core.topology_changes import LiveTopology, declarations, delete

DEPTH_POLL_SECONDS = 0.25
"""How often queue depths are polled while they change (or messages are being sent)."""
DEPTH_POLL_QUIET_SECONDS = 2.0
"""The longest gap between depth polls once they stop changing: the interval doubles up to this, so
a broker at rest is not asked a few times a second for the same answer (benchmarks/bench_idle.py)."""
NOT_FOUND = 404
"""AMQP reply code of a passive declare of a queue that does not exist (any more)."""
IDLE_WAIT = 0.2
"""The longest the producer blocks waiting for a request before it checks its stop flag again: stop
stays prompt, and an idle producer wakes 5 times a second, not 50 (TICK)."""


def declare_topology(conn: Connection, topology: Topology) -> None:
    """Declare exchanges, queues and bindings (idempotent) on `conn`."""
    channel = conn.default_channel
    for exchange in topology.kombu_exchanges().values():
        exchange(channel).declare()
    for spec in topology.queues:
        for bound in topology.kombu_queue_bindings(spec):
            bound(channel).declare()
    for exchange in topology.exchanges:  # exchange-to-exchange: once both ends exist
        for b in exchange.bindings:
            channel.exchange_bind(
                destination=exchange.name,
                source=b.exchange,
                routing_key=b.routing_key,
                arguments=dict(b.arguments) or None,
            )


class ProducerLoop:
    """One engine's producer thread; its state (script, the message in flight) survives reconnects."""

    def __init__(
        self,
        backend: Backend,
        topology: LiveTopology,
        emit: Emit,
        requests: RequestQueue,
        *,
        script: Sequence[PublishStep],
        make_request: Callable[[PublishStep], PublishRequest],
        clock: Clock,
        gate: StepGate,
        unacked_for: Callable[[str], int],
        declared: threading.Event,
        keep_pace: Callable[[StopCheck], None] = lambda _should_stop: None,
    ) -> None:
        """`keep_pace`: blocks before each publish while whoever reads the events is too far behind
        (EventStream.keep_pace), so the broker does not outrun the screen."""
        self.backend, self.live, self.emit, self.requests = backend, topology, emit, requests
        self.keep_pace = keep_pace
        self.make_request, self.clock, self.gate = make_request, clock, gate
        self.unacked_for = unacked_for
        self.declared = declared
        """Set once the topology is declared: consumers wait for it before consuming."""
        self._script: list[PublishStep] = list(script)
        self._next_due: float | None = None
        self._pending: Request | None = None
        """The request being carried out; done again after a reconnect until the broker has it."""
        self._lost_on: tuple[str, str] | None = None
        """(message id, error type) of the publish that last took the connection down: the same
        message failing the same way after a reconnect is given up, not resent for ever."""
        self._producer: Producer | None = None
        self._announced = False
        """The scenario's own topology was reported (once: a reconnect re-declares it silently)."""
        self._change_channel: Any = None
        self._returned: dict[str, str] = {}
        """Message id -> return reason, read once by `_send` for the publish it belongs to. Emptied
        before every publish, so it holds at most one publish's return: an entry left from an earlier
        publish (a return that came after that publish was done, possible only without confirms) could
        never be read again, and kept, they grew with every message."""
        self._depth_channel: Any = None
        self._last_depth: dict[str, tuple[int, int]] = {}

    def run(self, should_stop: StopCheck) -> None:
        """Declare, attach broker reporting, then publish script steps and requests until stopped."""
        self._status("connecting")
        self.backend.attach(self.emit, self.live.current)
        self.backend.watch_queues_gone(self._queue_gone)
        self._next_due = self._due_after(0)
        supervisor = Reconnect(self.backend, self._retrying, unreachable=self._unreachable)
        try:
            supervisor.run(lambda conn: self._session(conn, should_stop), should_stop)
        finally:
            self.backend.detach()

    def _session(self, conn: Connection, should_stop: StopCheck) -> None:
        declare_topology(conn, self.live.current)
        if not self._announced:  # the topology arrives as events, first, like any later change
            for change in declarations(self.live.current):
                self.emit(TopologyChanged(change=change, origin="scenario"))
            self._announced = True
        self.declared.set()
        self._status("connected")
        self._producer = self._new_producer(conn)
        self._produce(conn, should_stop)

    def _retrying(self, exc: BaseException, delay: float, connected_once: bool) -> None:
        state = "disconnected" if connected_once else "connecting"
        self._status(state, f"{reason(exc, self.backend.url)}; retrying in {delay:.1f}s")

    def _unreachable(self, why: str) -> BaseException:
        """Never connected (wrong host, port, password, vhost): one line, password masked."""
        return BrokerUrlError(f"cannot connect to {self.backend.display_url()}: {why}")

    def _status(self, state: str, detail: str = "") -> None:
        self.emit(
            BrokerStatus(
                broker=self.backend.display_url(),
                state=state,
                faithful=self.backend.faithful,
                detail=detail or self.backend.name,
            )
        )

    def _new_producer(self, conn: Connection, channel: Any = None) -> Producer:
        """Publish on the default channel (or `channel`, after the broker closed that one);
        basic.return lands in `_on_return` where it is detected."""
        self._returned.clear()
        if channel is None:
            self._depth_channel = self._change_channel = None
        on_return = self._on_return if self.backend.detects_returns else None
        return Producer(channel or conn.default_channel, serializer="json", on_return=on_return)

    def _on_return(self, exc: BaseException, exchange: str, routing_key: str, message: Any) -> None:
        """basic.return for a mandatory publish (arrives before its confirm, on the producer thread)."""
        msg = str(getattr(message, "properties", {}).get("message_id") or "")
        if msg:
            self._returned[msg] = " ".join(str(getattr(exc, "reply_text", "") or exc).split())

    def _due_after(self, index: int) -> float | None:
        if index >= len(self._script):
            return None
        return time.monotonic() + self.clock.real_seconds(self._script[index].after)

    def _produce(self, conn: Connection, should_stop: StopCheck) -> None:
        pending = self._pending
        if pending is not None:  # interrupted by a lost broker: send it again first
            if isinstance(pending, PublishRequest):  # the broker may have it already: say so
                self.emit(Notice(msg=pending.msg, level="warning", text=RESENT))
            self._send(conn, pending, should_stop)
        next_depth, depth_every = 0.0, DEPTH_POLL_SECONDS
        while not should_stop():
            now = time.monotonic()
            if self._next_due is not None and now >= self._next_due:
                step = self.make_request(self._script.pop(0))
                self._next_due = self._due_after(0)
                self._send(conn, step, should_stop)
                depth_every = DEPTH_POLL_SECONDS
            if now >= next_depth:
                # Back off while nothing changes; back to the short interval at the first change.
                changed = self._poll_depths(conn)
                depth_every = (
                    DEPTH_POLL_SECONDS if changed else min(2 * depth_every, DEPTH_POLL_QUIET_SECONDS)
                )
                next_depth = time.monotonic() + depth_every
            wake = next_depth if self._next_due is None else min(next_depth, self._next_due)
            request = self.requests.take(max(0.0, min(IDLE_WAIT, wake - time.monotonic())))
            if request is not None and depth_every > DEPTH_POLL_SECONDS:
                depth_every = DEPTH_POLL_SECONDS  # messages flow again: poll at the short interval
                next_depth = min(next_depth, time.monotonic() + DEPTH_POLL_SECONDS)
            # Send it, then what is already waiting in one go: bursts publish back to back.
            while request is not None and not should_stop():
                self._send(conn, request, should_stop)
                request = self.requests.take(None)
                if time.monotonic() >= next_depth:
                    self._poll_depths(conn)
                    next_depth = time.monotonic() + DEPTH_POLL_SECONDS

    def _send(self, conn: Connection, request: Request, should_stop: StopCheck) -> None:
        producer = self._producer
        assert producer is not None, "a session sets the producer before it sends"
        if isinstance(request, TopologyRequest):
            self._change(conn, request, should_stop)
            return
        if not self.gate.wait(should_stop):
            return
        self.keep_pace(should_stop)
        # Say where it goes before sending: a fast consumer may ack a copy before publish() returns
        # (RabbitMQ and memory:// alike; memory://'s lookup answers the same before as after).
        predict_first = not self.backend.reports_routing
        if self._pending is not request:  # a resend after a lost broker was announced already
            self.emit(
                Published(
                    msg=request.msg,
                    exchange=request.exchange,
                    routing_key=request.routing_key,
                    body=request.body,
                    headers=dict(request.headers),
                )
            )
            if predict_first:  # RabbitMQ may deliver a copy before it confirms: say where it goes first
                self._emit_routed(request, producer.channel)
        properties: dict[str, Any] = {"message_id": request.msg}
        if request.expiration is not None:
            properties["expiration"] = request.expiration  # seconds: kombu writes the ms string
        if request.priority is not None:
            properties["priority"] = request.priority
        self._pending = request  # until the broker has it (confirmed, where confirms are on)
        self._returned.clear()
        try:
            body = request.body  # serialized here, where kombu's publish would (same errors, same path)
            if kombu_json_in_use():  # the same text as serializer="json", without its per-call set-up
                body = json_dumps(body)
                properties["content_type"] = CONTENT_TYPE
                properties["content_encoding"] = CONTENT_ENCODING
            producer.publish(
                body,
                exchange=request.exchange,
                routing_key=request.routing_key,
                headers=dict(request.headers),
                mandatory=request.mandatory or self.backend.detects_returns,
                **properties,
            )
        except self.backend.transport_defects as exc:
            self._pending = None
            text = f"{self.backend.name} failed to publish {request.routing_key!r}: {exc}"
            self.emit(Notice(msg=request.msg, level="error", text=text))
            return
        except MessageNacked:  # a queue's x-overflow reject-publish refused it: its fate, not an outage
            self._pending = self._lost_on = None
            self.backend.after_nack(
                self.emit,
                self.live.current,
                request.msg,
                request.exchange,
                request.routing_key,
                request.headers,
            )
            return
        except conn.channel_errors as exc:  # the broker refused this message and closed its channel
            self._pending = self._lost_on = None
            self._refused(request, reason(exc, self.backend.url), predict_first)
            self._producer = self._new_producer(conn, conn.channel())
            return
        except Exception as exc:  # the connection went with it: the supervisor reconnects (or raises)
            if isinstance(exc, conn.recoverable_connection_errors):
                raise  # the network or a broker shutting down, not this message: resent, as before
            failure = (request.msg, type(exc).__name__)
            if self._lost_on == failure:  # resent after a reconnect and it failed the same way again
                self._pending = self._lost_on = None
                why = f"{reason(exc, self.backend.url)} (twice: not sent again)"
                self._refused(request, why, predict_first)
            else:
                self._lost_on = failure
            raise
        self._pending = self._lost_on = None
        if self.backend.reports_routing:
            return
        if predict_first:
            if request.msg in self._returned:
                self._report_returned(request, self._returned.pop(request.msg))
            return
        self._emit_routed(request, producer.channel)

    def _refused(self, request: PublishRequest, why: str, predicted: bool) -> None:
        """The broker would not take this message: that is its fate (it settles), and the producer
        goes on with the next one. Predicted copies (RabbitMQ) are closed: they never existed."""
        where = request.exchange or "(default)"
        text = f"the broker refused {request.routing_key!r} to {where}: {why}"
        self.emit(Notice(msg=request.msg, level="error", text=text))
        self.emit(
            Returned(msg=request.msg, exchange=request.exchange, routing_key=request.routing_key, reason=why)
        )
        if not predicted or (request.exchange and self.live.current.exchange(request.exchange) is None):
            return  # nothing was predicted (or could be: the exchange is gone from the topology too)
        table = self.live.current.binding_table
        for queue_name in table.route(request.exchange, request.routing_key, request.headers).queues:
            self.emit(Dropped(msg=request.msg, queue=queue_name, reason=f"refused by the broker: {why}"))

    def _change(self, conn: Connection, request: TopologyRequest, should_stop: StopCheck) -> None:
        """Make a topology change on the broker, then report it; a refusal is that change's fate."""
        change = request.change
        self._pending = request  # a lost broker mid-change: made again after reconnecting
        if change.kind != "consumer":  # consumers are the engine's loops, not broker objects
            if self._change_channel is None:
                self._change_channel = conn.channel()
            try:
                perform(self._change_channel, change)
            except conn.channel_errors as exc:  # the broker said no: that channel is closed now
                self._pending = self._change_channel = None
                why = reason(exc, self.backend.url)
                self.emit(
                    Notice(
                        level="error",
                        text=f"the broker refused to {change.op} {change.kind} {change.name}: {why}",
                    )
                )
                request.refused.set()
                return
        self._pending = None
        self.backend.topology_changed(self.live.apply(change))
        self.emit(TopologyChanged(change=change, origin=request.origin))
        if request.retires is not None:
            request.retires.set()
        if request.retired is not None:  # the old loop lets go of its subscription (and policy) first
            _wait_ended(request.retired, should_stop)
        request.done.set()

    def _queue_gone(self, name: str, origin: str) -> None:
        """The broker deleted queue `name` by itself (x-expires; on RabbitMQ: gone from under the
        depth poll): the live topology follows and says so, as for any deletion (any thread)."""
        spec = self.live.current.queue(name)
        if spec is None:
            return  # deleted by a change already (or never ours)
        change = delete(spec)
        before, after = self.live.current, self.live.apply(change)
        if after is before:
            return
        self._last_depth.pop(name, None)
        self.backend.topology_changed(after)
        self.emit(TopologyChanged(change=change, origin=origin))

    def _emit_routed(self, request: PublishRequest, channel: Any) -> None:
        """Routed from the backend's answer, with a notice when it differs from RabbitMQ's routing."""
        expected = self.live.current.binding_table.route(
            request.exchange, request.routing_key, request.headers
        )
        queues = self.backend.routed(channel, request.exchange, request.routing_key, request.headers)
        if queues is None:
            return
        differs = queues != expected.queues
        self.emit(
            Routed(
                msg=request.msg,
                exchange=request.exchange,
                routing_key=request.routing_key,
                queues=queues,
                source=self.backend.route_source,
                via_alternate=expected.via_alternate,
                rabbitmq_queues=expected.queues if differs else None,
            )
        )
        if differs:
            self.emit(
                Notice(
                    msg=request.msg,
                    level="warning",
                    text=(
                        f"{self.backend.name} routed {request.routing_key!r} to "
                        f"{_names(queues)}; RabbitMQ routes it to {_names(expected.queues)}"
                    ),
                )
            )

    def _report_returned(self, request: PublishRequest, reason: str) -> None:
        """The broker returned a mandatory publish: it reached no queue, whatever was predicted."""
        self.emit(
            Returned(
                msg=request.msg,
                exchange=request.exchange,
                routing_key=request.routing_key,
                reason=reason or "NO_ROUTE",
            )
        )
        table = self.live.current.binding_table
        predicted = table.route(request.exchange, request.routing_key, request.headers).queues
        if not predicted:
            return
        self.emit(
            Notice(
                msg=request.msg,
                level="warning",
                text=(
                    f"{self.backend.name} returned {request.routing_key!r} as unroutable; the "
                    f"scenario's bindings route it to {_names(predicted)} (the broker's differ)"
                ),
            )
        )
        for queue_name in predicted:  # the predicted copies never existed: close them
            self.emit(
                Dropped(msg=request.msg, queue=queue_name, reason="returned: no such binding on the broker")
            )

    def _poll_depths(self, conn: Connection) -> bool:
        """Passive declares on a channel of their own: a missing queue closes only that channel.
        True when a depth changed (or could not be read) since the last poll."""
        if self._depth_channel is None:
            self._depth_channel = conn.channel()
        channel = self._depth_channel
        changed = False
        for spec in self.live.current.queues:
            try:
                ready, unacked = self.backend.queue_depth(channel, spec.name)
            except conn.channel_errors as exc:
                self._depth_channel = None  # the broker closed it (queue deleted under us)
                if getattr(exc, "reply_code", None) == NOT_FOUND:
                    self._queue_gone(spec.name, "broker")  # deleted behind our back, or x-expires
                return True
            depth = (ready, self.unacked_for(spec.name) if unacked is None else unacked)
            if self._last_depth.get(spec.name) != depth:
                self._last_depth[spec.name] = depth
                self.emit(QueueDepth(queue=spec.name, ready=depth[0], unacked=depth[1]))
                changed = True
        return changed


def _names(queues: tuple[str, ...]) -> str:
    return ", ".join(queues) if queues else "no queue"


RETIRE_WAIT_SECONDS = 10.0
"""At most this long (real time) for a replaced consumer's loop to end; it notices within a tick and
closes its connection, so only a broker that hangs on close takes longer, and then the flow goes on."""


def _wait_ended(ended: threading.Event, should_stop: StopCheck) -> None:
    """Wait for a retired consumer loop to end, or the producer to stop, or RETIRE_WAIT_SECONDS."""
    deadline = time.monotonic() + RETIRE_WAIT_SECONDS
    while not ended.wait(0.02) and not should_stop() and time.monotonic() < deadline:
        pass
