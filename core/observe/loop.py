"""Observe mode's loops: read the vhost's firehose through a queue of mqscope's own, poll depths.

Nothing of the watched system is touched. mqscope declares one server-named, exclusive, auto-delete
queue (it vanishes with the connection), binds it to `amq.rabbitmq.trace` with `publish.#` and
`deliver.#`, and reads it with no-ack: it consumes no one's messages. The management HTTP API is
only read (queue depths and consumers, tracing on or off), except that `--trace-on` turns the vhost's
tracing on for the session and, in a `finally`, off again (only when mqscope was the one to turn it on).

Two loops on the runner: "observe" (the trace queue, on a connection of its own, reconnecting through
core.reconnect) and "observe-depths" (the HTTP poll; an HTTP call never stalls the trace reader). The
poll hands snapshots to the reader, which alone folds them in (core.observe.correlate is one thread's).
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from kombu import Connection

from core.backends.base import Backend, Emit
from core.controls import StopCheck, sleep_interruptibly
from core.errors import InputError, one_line
from core.events import BrokerStatus, Notice
from core.management import ManagementClient, ManagementError
from core.observe.correlate import Correlator
from core.observe.firehose import BINDING_KEYS, TRACE_EXCHANGE, Trace, TraceError, parse_trace
from core.reconnect import Reconnect, reason
from core.scenario import Scenario
from core.topology import Topology

DEPTH_POLL_SECONDS = 1.0
"""How often queue depths (and so acks) are read from the management API."""
TRACE_QUEUE_LIMIT = 100_000
"""At most this many traces wait in mqscope's own queue (x-max-length, the oldest dropped first): an
observer that falls behind must never grow a queue without bound on the user's broker."""
BEHIND_AT = TRACE_QUEUE_LIMIT // 10
"""Traces waiting in mqscope's queue from which observe says it is falling behind."""
NOT_TRACED = (
    "acks are not traced (rabbitmq-server#12878): a delivered copy shows settled once its queue's "
    "unacked count in the management API falls (RabbitMQ refreshes it every 5 s by default)"
)


Depths = dict[str, tuple[int, int] | None]
"""Queue -> (ready, unacked), None while the management API has no counts for it yet."""
Channels = dict[tuple[str, int], tuple[str, str]]
"""(connection name, channel number) -> (consumer tag, channel name)."""


class ObserveError(InputError):
    """Observe cannot work as asked (not RabbitMQ, no management API for --trace-on): one line."""


@dataclass(frozen=True)
class ObserveSpec:
    """What --observe was given: the management API (None: none reachable) and --trace-on."""

    management: ManagementClient | None
    trace_on: bool = False


def vhost_of(broker_url: str) -> str:
    """The vhost an amqp:// URL names ("/" when it names none, as kombu and RabbitMQ take it)."""
    path = urlsplit(broker_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def observe_scenario(given: Scenario | None, broker_url: str) -> Scenario:
    """The topology observe draws: the scenario's when given, else none yet (discovery's, when
    merged); its publish script and producers never run (observe publishes nothing)."""
    if given is not None:
        return given
    title = f"observe vhost {vhost_of(broker_url)}"
    return Scenario(name="observe", title=title, topology=Topology((), ()), publishes=())


def tracing_hint(vhost: str) -> str:
    return (
        f"tracing is off for vhost {vhost}: nothing to observe until it is on "
        f"(rabbitmqctl trace_on -p {vhost}, or run mqscope with --trace-on)"
    )


class ObserveLoop:
    """The trace reader and the depth poll of one observe session (see the module doc)."""

    def __init__(
        self, spec: ObserveSpec, topology: Callable[[], Topology], backend: Backend, emit: Emit
    ) -> None:
        """`topology` gives the topology as it is now (discovery changes it while observe runs)."""
        self.spec, self.topology, self.backend, self.emit = spec, topology, backend, emit
        self.vhost = vhost_of(backend.url)
        self.correlator = Correlator(emit, consumer_name=self._consumer_name)
        self.snapshots: queue.SimpleQueue[tuple[Depths, Channels]] = queue.SimpleQueue()
        """Depth poll -> trace reader: (queue depths, consumers' channels), one per poll."""
        self.channels: Channels = {}
        """(connection name, channel number) -> (consumer tag, channel name), from /api/consumers."""
        self.trace_queue: str | None = None
        """mqscope's own trace queue once declared: its deliveries are never shown."""
        self.turned_on = False
        """True while tracing is on because --trace-on turned it on (turned off again at the end)."""
        self.observing = False
        self.falling_behind = False
        self.management_ok = spec.management is not None
        """False once the management API proved unreachable at start: no depth poll then."""

    # -- the trace reader ----------------------------------------------------------------------
    def run(self, should_stop: StopCheck) -> None:
        """Read traces until stopped; tracing that --trace-on turned on is turned off at the end."""
        if not getattr(self.backend, "detects_returns", False):
            raise ObserveError("--observe needs a RabbitMQ broker: --broker amqp://user:pass@host:port/vhost")
        try:
            self._tracing_at_start()
            self._status("connecting", self.backend.name)
            supervisor = Reconnect(self.backend, self._retrying, unreachable=self._unreachable)
            supervisor.run(self._session(should_stop), should_stop)
        finally:
            self._restore_tracing()

    def _tracing_at_start(self) -> None:
        """Say whether the vhost is traced; --trace-on turns it on. Without a reachable management
        API observe still reads traces (a warning says what is missing); --trace-on then cannot work."""
        management = self.spec.management
        try:
            if management is None:
                raise ManagementError("no management API given")
            traced = management.tracing(self.vhost)
        except ManagementError as exc:
            if self.spec.trace_on:
                raise ObserveError(f"--trace-on needs the management API: {one_line(exc)}") from None
            self.management_ok = False
            text = f"{one_line(exc)}: tracing cannot be checked, and delivered copies are never shown settled"
            self.emit(Notice(level="warning", text=text))
            return
        if traced:
            return
        if not self.spec.trace_on:
            self.emit(Notice(level="warning", text=tracing_hint(self.vhost)))
            return
        management.set_tracing(self.vhost, True)
        self.turned_on = True
        text = f"tracing turned on for vhost {self.vhost} (--trace-on, until exit)"
        self.emit(Notice(level="info", text=text))

    def _restore_tracing(self) -> None:
        if not self.turned_on or self.spec.management is None:
            return
        self.spec.management.set_tracing(self.vhost, False)
        self.turned_on = False
        self.emit(Notice(level="info", text=f"tracing turned off again for vhost {self.vhost}"))

    def _retrying(self, exc: BaseException, delay: float, connected_once: bool) -> None:
        state = "reconnecting" if connected_once else "connecting"
        self._status(state, f"{reason(exc, self.backend.url)}; retrying in {delay:.1f}s")

    def _unreachable(self, why: str) -> BaseException:
        return ObserveError(f"cannot observe via {self.backend.display_url()}: {why}")

    def _status(self, state: str, detail: str) -> None:
        self.emit(BrokerStatus(broker=self.backend.display_url(), state=state, faithful=True, detail=detail))

    def _session(self, should_stop: StopCheck) -> Any:
        def session(conn: Connection) -> None:
            channel = conn.channel()
            name, _ready, _consumers = channel.queue_declare(
                queue="",
                exclusive=True,
                auto_delete=True,
                durable=False,
                arguments={"x-max-length": TRACE_QUEUE_LIMIT},
            )
            for key in BINDING_KEYS:
                channel.queue_bind(queue=name, exchange=TRACE_EXCHANGE, routing_key=key)
            self.trace_queue = name
            channel.basic_consume(queue=name, no_ack=True, callback=self._on_raw)
            self.observing = True
            self._status("connected", f"observing vhost {self.vhost} through {name}")
            if self.management_ok:
                self.emit(Notice(level="info", text=NOT_TRACED))
            while not should_stop():
                self._fold_snapshots()
                try:
                    conn.drain_events(timeout=0.1)
                except TimeoutError:
                    continue

        return session

    def _on_raw(self, message: Any) -> None:
        """One trace message (py-amqp's Message: kombu's decoding is skipped, it costs per message)."""
        key = str(message.delivery_info.get("routing_key", ""))
        if self.trace_queue is not None and key == f"deliver.{self.trace_queue}":
            return  # mqscope's own queue (RabbitMQ does not trace it; never shown if it ever did)
        try:
            trace = parse_trace(key, message.properties.get("application_headers"), message.body)
        except (TraceError, TypeError, ValueError) as exc:
            self.emit(Notice(level="warning", text=f"trace message skipped: {one_line(exc)}"))
            return
        if trace.queue is None:
            self.correlator.publish(trace)
        else:
            self.correlator.deliver(trace)

    def _fold_snapshots(self) -> None:
        while True:
            try:
                depths, channels = self.snapshots.get_nowait()
            except queue.Empty:
                return
            self.channels = channels
            own = depths.pop(self.trace_queue or "", None)  # mqscope's own queue is not in the picture
            self._behind(own[0] if own else 0)
            self.correlator.depths(depths)

    def _behind(self, waiting: int) -> None:
        """Say (once each time it starts) that traces pile up faster than observe reads them."""
        if waiting >= BEHIND_AT and not self.falling_behind:
            text = (
                f"observe is falling behind: {waiting:,} traces wait in its queue; past "
                f"{TRACE_QUEUE_LIMIT:,} RabbitMQ drops the oldest (their messages then show unmatched)"
            )
            self.emit(Notice(level="warning", text=text))
        self.falling_behind = waiting >= BEHIND_AT // 2 if self.falling_behind else waiting >= BEHIND_AT

    def _consumer_name(self, queue_name: str, trace: Trace) -> str:
        """The consumer as the diagram knows it: the topology's consumer by its tag, the one consumer
        the topology has on that queue, the tag, or the connection and channel."""
        tag, channel = self.channels.get((trace.connection, trace.channel), (None, ""))
        consumers = self.topology().consumers
        names = [c.name for c in consumers if queue_name in c.queues]
        for name in (tag, f"{tag} @ {channel}"):  # as discovery names them (core.discovery)
            if tag is not None and name in names:
                return name
        if len(names) == 1:
            return names[0]
        return tag or f"{trace.connection or 'connection'} ch{trace.channel}"

    # -- the depth poll --------------------------------------------------------------------------
    def poll(self, should_stop: StopCheck) -> None:
        """Read queue depths and consumers every DEPTH_POLL_SECONDS; say when tracing comes on."""
        management = self.spec.management
        while management is not None and not self.observing and not should_stop():
            sleep_interruptibly(0.05, should_stop, None)  # the reader checks the API first
        if management is None or not self.management_ok:
            return
        failing: str | None = None
        while not should_stop():
            try:
                depths = _depths(management.queues(self.vhost))
                channels = _channels(management.consumers(self.vhost))
            except ManagementError as exc:
                if one_line(exc) != failing:
                    failing = one_line(exc)
                    self.emit(Notice(level="warning", text=f"depth poll: {failing}"))
            else:
                failing = None
                self.snapshots.put((depths, channels))
            sleep_interruptibly(DEPTH_POLL_SECONDS, should_stop, None)


def _depths(queues: list[dict[str, Any]]) -> Depths:
    """Queue name -> (ready, unacked), or None for a queue the API has no counts for yet."""
    out: Depths = {}
    for q in queues:
        name, ready, unacked = q.get("name"), q.get("messages_ready"), q.get("messages_unacknowledged")
        if isinstance(name, str):
            both = isinstance(ready, int) and isinstance(unacked, int)
            out[name] = (int(ready or 0), int(unacked or 0)) if both else None
    return out


def _channels(consumers: list[dict[str, Any]]) -> Channels:
    """(connection name, channel number) -> (consumer tag, channel name), from /api/consumers."""
    out: Channels = {}
    for c in consumers:
        details: Mapping[str, Any] = c.get("channel_details") or {}
        name, number, tag = details.get("connection_name"), details.get("number"), c.get("consumer_tag")
        if isinstance(name, str) and isinstance(number, int) and isinstance(tag, str):
            out[(name, number)] = (tag, str(details.get("name", "")))
    return out
