"""Exchange, queue, binding and consumer specs: validated once, then turned into kombu objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, cast

from kombu import Exchange, Queue

from core.errors import InputError
from core.queue_arguments import MODELLED, declare_problem
from core.routing import (
    MAX_NAME_BYTES,
    Binding,
    BindingTable,
    ExchangeEntry,
    binding_key_problem,
    routing_key_problem,
)
from core.text import short, visible

ExchangeType = Literal["direct", "fanout", "topic", "headers"]
EXCHANGE_TYPES: tuple[str, ...] = ("direct", "fanout", "topic", "headers")
FailurePolicy = Literal["requeue", "dead_letter", "drop"]
FAILURE_POLICIES: tuple[str, ...] = ("requeue", "dead_letter", "drop")
INT32 = -(2**31)
"""The lowest x-priority (RabbitMQ takes a signed 32-bit integer)."""
MODELLED_QUEUE_ARGUMENTS = MODELLED
"""What mqscope:// models (core.queue_arguments); the in-process backend refuses any other, while
RabbitMQ gets them as they are."""
"""Queue arguments a scenario's `arguments` table may hold besides the shorthand fields' own."""


class TopologyError(InputError):
    """A topology or scenario that RabbitMQ (or mqscope) would refuse; the message says where."""


def name_problem(kind: str, name: str) -> str | None:
    """Why a name is unusable as an AMQP name (shortstr), or None."""
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        return f"{kind} name is {size} bytes; AMQP allows at most 255"
    return None


@dataclass(frozen=True)
class BindingSpec:
    """A queue's binding to an exchange: a routing pattern, or header arguments."""

    exchange: str
    routing_key: str = ""
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExchangeSpec:
    """An exchange to declare, with its exchange-to-exchange bindings: each takes what exchange
    `BindingSpec.exchange` (the source) accepts under its key or arguments on through this one."""

    name: str
    type: ExchangeType = "topic"
    durable: bool = True
    alternate_exchange: str | None = None
    bindings: tuple[BindingSpec, ...] = field(default=(), hash=False)

    def to_kombu(self) -> Exchange:
        arguments = {"alternate-exchange": self.alternate_exchange} if self.alternate_exchange else {}
        return Exchange(self.name, type=self.type, durable=self.durable, arguments=arguments)


@dataclass(frozen=True)
class QueueSpec:
    """A queue with its bindings and RabbitMQ queue arguments (dead-lettering, TTL, max length)."""

    name: str
    bindings: tuple[BindingSpec, ...] = ()
    dead_letter_exchange: str | None = None
    dead_letter_routing_key: str | None = None
    message_ttl: float | None = None  # seconds
    max_length: int | None = None
    durable: bool = True
    arguments: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Further queue arguments under RabbitMQ's own names (x-overflow, x-max-priority, ...); the
    fields above are shorthands for x-dead-letter-*, x-message-ttl and x-max-length."""

    def queue_arguments(self) -> dict[str, Any]:
        """The x-arguments RabbitMQ reads on queue.declare."""
        args: dict[str, Any] = dict(self.arguments)
        if self.dead_letter_exchange is not None:
            args["x-dead-letter-exchange"] = self.dead_letter_exchange
        if self.dead_letter_routing_key is not None:
            args["x-dead-letter-routing-key"] = self.dead_letter_routing_key
        if self.message_ttl is not None:
            args["x-message-ttl"] = round(self.message_ttl * 1000)
        if self.max_length is not None:
            args["x-max-length"] = self.max_length
        return args


@dataclass(frozen=True)
class ConsumerSpec:
    """A simulated worker: which queues it consumes, its prefetch, work time and failure policy."""

    name: str
    queues: tuple[str, ...]
    prefetch: int = 1
    work_seconds: float = 0.0
    on_failure: FailurePolicy = "requeue"
    arguments: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """basic.consume arguments under RabbitMQ's names: x-priority (higher ones are sent to first)."""
    manual: bool = False
    """Each delivery waits in its hands until the user acks, requeues, rejects or drops it."""
    foreign: bool = False
    """Someone else's consumer, found on the broker by discovery (core.discovery): mqscope runs no
    loop for it and consumes nothing through it; it is drawn so the real flow can be read."""
    auto_ack: bool = False
    """A foreign consumer's ack mode: True when it consumes with no-ack (RabbitMQ settles each
    delivery as it is sent)."""


@dataclass(frozen=True)
class PublishStep:
    """One message of the producer's script, sent `after` seconds after the previous one."""

    exchange: str
    routing_key: str = ""
    body: Any = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    after: float = 0.0
    mandatory: bool = False
    expiration: float | None = None  # seconds (per-message TTL)
    priority: int | None = None  # AMQP priority (0-255); counts in queues with x-max-priority


@dataclass(frozen=True)
class Topology:
    """Exchanges, queues (with their bindings) and consumers, checked for consistency."""

    exchanges: tuple[ExchangeSpec, ...]
    queues: tuple[QueueSpec, ...]
    consumers: tuple[ConsumerSpec, ...] = ()

    def exchange(self, name: str) -> ExchangeSpec | None:
        return next((e for e in self.exchanges if e.name == name), None)

    def queue(self, name: str) -> QueueSpec | None:
        return next((q for q in self.queues if q.name == name), None)

    def consumer(self, name: str) -> ConsumerSpec | None:
        return next((c for c in self.consumers if c.name == name), None)

    @cached_property
    def binding_table(self) -> BindingTable:
        """The router's table of these exchanges, queues and bindings (scenario order), built once:
        a Topology never changes, and the table remembers the routes it has worked out."""
        return BindingTable(
            {e.name: ExchangeEntry(e.type, e.alternate_exchange) for e in self.exchanges},
            (q.name for q in self.queues),
            (
                *(
                    Binding(b.exchange, q.name, "queue", b.routing_key, b.arguments)
                    for q in self.queues
                    for b in q.bindings
                ),
                *(
                    Binding(b.exchange, e.name, "exchange", b.routing_key, b.arguments)
                    for e in self.exchanges
                    for b in e.bindings
                ),
            ),
        )

    def problems(self) -> list[str]:
        """Every inconsistency, each as `entry: problem`."""
        out: list[str] = []
        _duplicates(out, "exchange", [e.name for e in self.exchanges])
        _duplicates(out, "queue", [q.name for q in self.queues])
        _duplicates(out, "consumer", [c.name for c in self.consumers])
        known = {e.name for e in self.exchanges}
        for ex in self.exchanges:
            where = f"exchange {short(ex.name)}"
            if ex.type not in EXCHANGE_TYPES:
                out.append(f"{where}: type {short(ex.type)} is not one of {', '.join(EXCHANGE_TYPES)}")
            if (p := name_problem("exchange", ex.name)) is not None:
                out.append(f"{where}: {p}")
            if visible(ex.name) != ex.name:  # RabbitMQ takes them; every log that shows them is at risk
                out.append(f"exchange '{visible(ex.name)}': exchange names must not hold control characters")
            if ex.name == "" or ex.name.startswith("amq."):
                out.append(f"{where}: names '' and 'amq.*' are reserved by the broker")
            if ex.alternate_exchange is not None and ex.alternate_exchange not in known:
                out.append(f"{where}: alternate exchange {short(ex.alternate_exchange)} is not declared")
            for b in ex.bindings:
                self._binding_problems(out, f"{where} binding {short(b.routing_key)}", b)
        for q in self.queues:
            where = f"queue {short(q.name)}"
            if (p := name_problem("queue", q.name)) is not None:
                out.append(f"{where}: {p}")
            if q.name == "" or q.name.startswith("amq."):
                out.append(f"{where}: names '' and 'amq.*' are reserved by the broker")
            if q.dead_letter_exchange not in (None, "") and q.dead_letter_exchange not in known:
                out.append(f"{where}: dead-letter exchange {short(q.dead_letter_exchange)} is not declared")
            if q.message_ttl is not None and q.message_ttl < 0:
                out.append(f"{where}: message_ttl must be >= 0 seconds")
            if q.max_length is not None and q.max_length < 0:
                out.append(f"{where}: max_length must be >= 0")
            if (p := declare_problem(q.name, q.queue_arguments(), durable=q.durable)) is not None:
                out.append(f"{where}: {p.replace(_rabbit_where(q.name), '')}")
            if q.dead_letter_routing_key is not None and (
                p := routing_key_problem(q.dead_letter_routing_key)
            ):
                out.append(f"{where}: dead_letter_routing_key: {p}")
            for b in q.bindings:
                self._binding_problems(out, f"{where} binding {short(b.routing_key)}", b)
            sac = q.arguments.get("x-single-active-consumer")
            if sac is not None and not isinstance(sac, bool):
                out.append(f"{where}: x-single-active-consumer must be true or false")
        queue_names = {q.name for q in self.queues}
        for c in self.consumers:
            where = f"consumer {short(c.name)}"
            if not c.queues:
                out.append(f"{where}: consumes no queue")
            if (p := name_problem("consumer", c.name)) is not None:  # its consumer tag is a shortstr
                out.append(f"{where}: {p}")
            for qn in c.queues:
                if qn not in queue_names:
                    out.append(f"{where}: unknown queue {short(qn)}")
            if not 0 <= c.prefetch <= 65535:
                out.append(f"{where}: prefetch must be between 0 (unlimited) and 65535")
            if c.work_seconds < 0:
                out.append(f"{where}: work_seconds must be >= 0")
            if c.on_failure not in FAILURE_POLICIES:
                out.append(f"{where}: on_failure must be one of {', '.join(FAILURE_POLICIES)}")
            for key in sorted(set(c.arguments) - {"x-priority"}):
                out.append(f"{where}: consumer argument {short(key)} is not modelled (only x-priority)")
            priority = c.arguments.get("x-priority", 0)
            if isinstance(priority, bool) or not isinstance(priority, int) or not INT32 <= priority < -INT32:
                out.append(f"{where}: x-priority must be an integer (a signed 32-bit one)")
        return out

    def _binding_problems(self, out: list[str], where: str, b: BindingSpec) -> None:
        spec = self.exchange(b.exchange)
        if spec is None:
            out.append(f"{where}: unknown exchange {short(b.exchange)}")
            return
        if (p := binding_key_problem(b.routing_key)) is not None:
            out.append(f"{where}: {p}")
        if spec.type == "headers":
            mode = b.arguments.get("x-match", "all")
            if mode not in ("all", "any", "all-with-x", "any-with-x"):
                out.append(f"{where}: x-match must be 'all' or 'any', not {short(mode)}")

    def validate(self) -> Topology:
        problems = self.problems()
        if problems:
            raise TopologyError(problems[0])
        return self

    def kombu_exchanges(self) -> dict[str, Exchange]:
        return {e.name: e.to_kombu() for e in self.exchanges}

    def kombu_queue_bindings(self, queue: QueueSpec) -> list[Queue]:
        """One kombu Queue per binding (kombu binds a Queue object to one exchange/key each)."""
        exchanges = self.kombu_exchanges()
        args = queue.queue_arguments()
        if not queue.bindings:
            return [Queue(queue.name, durable=queue.durable, queue_arguments=args, no_declare=False)]
        return [
            Queue(
                queue.name,
                exchange=exchanges[b.exchange],
                routing_key=b.routing_key,
                binding_arguments=dict(b.arguments) or None,
                queue_arguments=args,
                durable=queue.durable,
            )
            for b in queue.bindings
        ]

    def kombu_queue(self, name: str, consumer_arguments: Mapping[str, Any] | None = None) -> Queue:
        """A plain kombu Queue (no binding) to consume from, with basic.consume's arguments."""
        spec = self.queue(name)
        args = spec.queue_arguments() if spec else {}
        durable = spec.durable if spec else True
        given = dict(consumer_arguments or {}) or None
        return Queue(name, queue_arguments=args, durable=durable, no_declare=True, consumer_arguments=given)


def _rabbit_where(name: str) -> str:
    """The part of RabbitMQ's refusal text that names the queue (an error line names it already)."""
    return f" for queue '{name}' in vhost '/'"


def _duplicates(out: list[str], kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            out.append(f"{kind} {short(name)}: declared twice")
        seen.add(name)


def as_exchange_type(value: str) -> ExchangeType:
    """Narrow a validated string to the ExchangeType literal."""
    if value not in EXCHANGE_TYPES:
        raise TopologyError(f"exchange type {short(value)} is not one of {', '.join(EXCHANGE_TYPES)}")
    return cast(ExchangeType, value)


def as_failure_policy(value: str) -> FailurePolicy:
    """Narrow a validated string to the FailurePolicy literal."""
    if value not in FAILURE_POLICIES:
        raise TopologyError(f"on_failure {value!r} is not one of {', '.join(FAILURE_POLICIES)}")
    return cast(FailurePolicy, value)
