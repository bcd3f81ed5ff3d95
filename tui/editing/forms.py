"""One form per kind: exchange, queue, binding, consumer. Each reads its fields as a scenario file's
table (core.scenario's readers: the same rules and reasons) and says which changes make the edit.

RabbitMQ cannot change an exchange's type or a queue's arguments in place: such an edit deletes and
declares it again, with its bindings (and, for a queue, the consumers that consume it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Select, SelectionList, Switch
from textual.widgets.select import NoSelection

from core.errors import InputError
from core.routing import Binding
from core.scenario import binding_entry, consumer_entry, exchange_entry, queue_entry
from core.text import short
from core.topology import (
    EXCHANGE_TYPES,
    FAILURE_POLICIES,
    ConsumerSpec,
    ExchangeSpec,
    QueueSpec,
    Topology,
)
from core.topology_changes import (
    TopologyChange,
    binding_spec,
    declare,
    delete,
    queue_binding,
    same_binding,
)
from core.topology_undo import bindings_from
from tui.editing.fields import (
    ARGUMENTS_EXAMPLE,
    QUEUE_ARGUMENTS_EXAMPLE,
    FormProblem,
    inline_table,
    integer,
    number,
)
from tui.editing.form import Check, EditForm, Submit
from tui.text import visible


def _names(names: list[str]) -> list[tuple[Text, str]]:
    return [(Text(visible(n)), n) for n in names]


def _chosen(select: Select[str]) -> str | None:
    value = select.value
    return value if isinstance(value, str) else None


class ExchangeForm(EditForm):
    """Add an exchange, or change one's type, alternate exchange or durability."""

    def __init__(
        self, topology: Topology, existing: ExchangeSpec | None, check: Check, submit: Submit
    ) -> None:
        what = "Add exchange" if existing is None else f"Edit exchange {existing.name}"
        super().__init__(what, check, submit)
        self.topology, self.existing = topology, existing

    def fields(self) -> ComposeResult:
        ex = self.existing
        others = [e.name for e in self.topology.exchanges if ex is None or e.name != ex.name]
        yield from self.field(
            "name", Input(compact=True, value=ex.name if ex else "", disabled=ex is not None, id="name")
        )
        types = [(t, t) for t in EXCHANGE_TYPES]
        yield from self.field(
            "type",
            Select(types, value=ex.type if ex else "topic", allow_blank=False, compact=True, id="type"),
        )
        alternate = ex.alternate_exchange if ex and ex.alternate_exchange in others else Select.NULL
        yield from self.field(
            "alternate_exchange (optional)",
            Select(_names(others), value=alternate, compact=True, id="alternate_exchange"),
        )
        yield from self.field("durable", Switch(ex.durable if ex else True, id="durable"))

    def spec(self) -> ExchangeSpec:
        table: dict[str, Any] = {
            "name": self.query_one("#name", Input).value,
            "type": _chosen(self.query_one("#type", Select)),
            "durable": self.query_one("#durable", Switch).value,
        }
        if (alternate := _chosen(self.query_one("#alternate_exchange", Select))) is not None:
            table["alternate_exchange"] = alternate
        return exchange_entry(table)

    def changes(self) -> list[TopologyChange]:
        spec, old = self.spec(), self.existing
        if old is None:
            if self.topology.exchange(spec.name) is not None:
                raise FormProblem(f"exchange {short(spec.name)}: declared twice")
            return [declare(spec)]
        if spec == replace(old, bindings=()):  # the form does not hold its exchange bindings
            return []
        return [delete(old), declare(spec), *bindings_from(self.topology, old.name)]

    def label(self) -> str:
        name = self.query_one("#name", Input).value
        return f"{'add' if self.existing is None else 'edit'} exchange {short(name)}"


class QueueForm(EditForm):
    """Add a queue (optionally bound at once), or change its dead-lettering, TTL, max length or any
    other queue argument (RabbitMQ's names, an inline table read by the scenario's own reader)."""

    def __init__(
        self,
        topology: Topology,
        existing: QueueSpec | None,
        check: Check,
        submit: Submit,
        *,
        bind_to: str | None = None,
    ) -> None:
        what = "Add queue" if existing is None else f"Edit queue {existing.name}"
        super().__init__(what, check, submit)
        self.topology, self.existing, self.bind_to = topology, existing, bind_to

    def fields(self) -> ComposeResult:
        q = self.existing
        exchanges = [e.name for e in self.topology.exchanges]
        yield from self.field(
            "name", Input(compact=True, value=q.name if q else "", disabled=q is not None, id="name")
        )
        dlx = q.dead_letter_exchange if q and q.dead_letter_exchange in exchanges else Select.NULL
        yield from self.field(
            "dead_letter_exchange (optional)",
            Select(_names(exchanges), value=dlx, compact=True, id="dead_letter_exchange"),
        )
        dlrk = q.dead_letter_routing_key if q and q.dead_letter_routing_key is not None else ""
        yield from self.field(
            "dead_letter_routing_key (optional)",
            Input(compact=True, value=dlrk, id="dead_letter_routing_key"),
        )
        ttl = f"{q.message_ttl:g}" if q and q.message_ttl is not None else ""
        yield from self.field(
            "message_ttl (seconds, optional)", Input(compact=True, value=ttl, type="number", id="message_ttl")
        )
        length = str(q.max_length) if q and q.max_length is not None else ""
        yield from self.field(
            "max_length (optional)", Input(compact=True, value=length, type="integer", id="max_length")
        )
        arguments = Input(
            compact=True,
            value=_toml_table(q.arguments) if q else "",
            placeholder=QUEUE_ARGUMENTS_EXAMPLE,
            id="arguments",
        )
        yield from self.field("arguments (RabbitMQ's queue arguments, optional)", arguments)
        yield from self.field("durable", Switch(q.durable if q else True, id="durable"))
        if q is None:
            bind = self.bind_to if self.bind_to in exchanges else Select.NULL
            yield from self.field(
                "bind to exchange (optional)",
                Select(_names(exchanges), value=bind, compact=True, id="exchange"),
            )
            yield from self.field("routing_key", Input(compact=True, id="routing_key"))

    def spec(self) -> QueueSpec:
        table: dict[str, Any] = {
            "name": self.query_one("#name", Input).value,
            "durable": self.query_one("#durable", Switch).value,
        }
        if (dlx := _chosen(self.query_one("#dead_letter_exchange", Select))) is not None:
            table["dead_letter_exchange"] = dlx
        if (dlrk := self.query_one("#dead_letter_routing_key", Input).value) != "":
            table["dead_letter_routing_key"] = dlrk
        if (ttl := number("message_ttl", self.query_one("#message_ttl", Input).value)) is not None:
            table["message_ttl"] = ttl
        if (length := integer("max_length", self.query_one("#max_length", Input).value)) is not None:
            table["max_length"] = length
        arguments = self.query_one("#arguments", Input).value
        if table_given := inline_table("arguments", arguments, QUEUE_ARGUMENTS_EXAMPLE):
            table["arguments"] = table_given
        return queue_entry(table)

    def changes(self) -> list[TopologyChange]:
        spec, old = self.spec(), self.existing
        if old is None:
            if self.topology.queue(spec.name) is not None:
                raise FormProblem(f"queue {short(spec.name)}: declared twice")
            out = [declare(spec)]
            if (exchange := _chosen(self.query_one("#exchange", Select))) is not None:
                key = self.query_one("#routing_key", Input).value
                entry = binding_entry({"exchange": exchange, "routing_key": key})
                out.append(declare(queue_binding(exchange, spec.name, entry.routing_key)))
            return out
        if spec == replace(old, bindings=()):
            return []
        users = [c for c in self.topology.consumers if old.name in c.queues]
        rebind = [
            declare(queue_binding(b.exchange, old.name, b.routing_key, b.arguments)) for b in old.bindings
        ]
        return [
            *(delete(c) for c in users),
            delete(old),
            declare(spec),
            *rebind,
            *(declare(c) for c in users),
        ]

    def label(self) -> str:
        name = self.query_one("#name", Input).value
        return f"{'add' if self.existing is None else 'edit'} queue {short(name)}"


class BindingForm(EditForm):
    """Bind a queue to an exchange with a routing key or headers arguments, or change a binding."""

    def __init__(
        self,
        topology: Topology,
        existing: Binding | None,
        check: Check,
        submit: Submit,
        *,
        exchange: str | None = None,
        queue: str | None = None,
    ) -> None:
        what = "Add binding" if existing is None else "Edit binding"
        super().__init__(what, check, submit)
        self.topology, self.existing = topology, existing
        self.default_exchange = existing.source if existing else exchange
        self.default_queue = existing.destination if existing else queue

    def fields(self) -> ComposeResult:
        exchanges = [e.name for e in self.topology.exchanges]
        queues = [q.name for q in self.topology.queues]
        ex = self.default_exchange if self.default_exchange in exchanges else Select.NULL
        destinations: list[tuple[Text, tuple[str, str]]] = [(Text(visible(q)), ("queue", q)) for q in queues]
        destinations += [(Text(f"exchange {visible(e)}"), ("exchange", e)) for e in exchanges]
        kind = self.existing.destination_kind if self.existing else "queue"
        chosen = (kind, self.default_queue)
        to: tuple[str, str] | NoSelection = chosen if chosen in [v for _, v in destinations] else Select.NULL
        yield from self.field("exchange", Select(_names(exchanges), value=ex, compact=True, id="exchange"))
        yield from self.field(
            "destination (a queue, or an exchange)", Select(destinations, value=to, compact=True, id="queue")
        )
        b = self.existing
        yield from self.field(
            "routing_key", Input(compact=True, value=b.routing_key if b else "", id="routing_key")
        )
        arguments = Input(
            compact=True,
            value=_toml_table(b.arguments) if b else "",
            placeholder=ARGUMENTS_EXAMPLE,
            id="arguments",
        )
        yield from self.field("arguments (headers exchanges, optional)", arguments)

    def binding(self) -> Binding:
        exchange = _chosen(self.query_one("#exchange", Select))
        destination = self.query_one("#queue", Select).value
        if exchange is None:
            raise FormProblem("exchange: choose the exchange the binding routes from")
        if not isinstance(destination, tuple):
            raise FormProblem("destination: choose the queue (or exchange) the binding routes to")
        kind, target = destination
        entry = binding_entry(
            {
                "exchange": exchange,
                "routing_key": self.query_one("#routing_key", Input).value,
                "arguments": inline_table("arguments", self.query_one("#arguments", Input).value),
            }
        )
        if kind == "queue":
            return queue_binding(exchange, target, entry.routing_key, entry.arguments)
        return Binding(exchange, target, "exchange", entry.routing_key, dict(entry.arguments))

    def changes(self) -> list[TopologyChange]:
        binding, old = self.binding(), self.existing
        if old is None:
            return [declare(binding)]
        same_target = (binding.destination, binding.destination_kind) == (
            old.destination,
            old.destination_kind,
        )
        if same_binding(binding, binding_spec(old)) and same_target:
            return []
        return [delete(old), declare(binding)]

    def label(self) -> str:
        try:
            name = declare(self.binding()).name
        except (FormProblem, InputError):
            name = ""
        return f"{'add' if self.existing is None else 'edit'} binding {name}"


class ConsumerForm(EditForm):
    """Add a worker, or change its queues, prefetch, work time, failure policy or consumer priority
    (`x-priority`, its one basic.consume argument); no restart."""

    def __init__(
        self,
        topology: Topology,
        existing: ConsumerSpec | None,
        check: Check,
        submit: Submit,
        *,
        queue: str | None = None,
    ) -> None:
        what = "Add consumer" if existing is None else f"Edit consumer {existing.name}"
        super().__init__(what, check, submit)
        self.topology, self.existing = topology, existing
        self.default_queues = existing.queues if existing else ((queue,) if queue else ())

    def fields(self) -> ComposeResult:
        c = self.existing
        yield from self.field(
            "name", Input(compact=True, value=c.name if c else "", disabled=c is not None, id="name")
        )
        choices = [
            (Text(visible(q.name)), q.name, q.name in self.default_queues) for q in self.topology.queues
        ]
        yield from self.field("queues", SelectionList[str](*choices, id="queues"))
        yield from self.field(
            "prefetch (0: unlimited)",
            Input(compact=True, value=str(c.prefetch if c else 1), type="integer", id="prefetch"),
        )
        work = f"{c.work_seconds:g}" if c else "0.5"
        yield from self.field(
            "work_seconds", Input(compact=True, value=work, type="number", id="work_seconds")
        )
        policies = [(p, p) for p in FAILURE_POLICIES]
        policy = c.on_failure if c else "requeue"
        yield from self.field(
            "on_failure", Select(policies, value=policy, allow_blank=False, compact=True, id="on_failure")
        )
        priority = c.arguments.get("x-priority") if c else None
        yield from self.field(
            "x-priority (optional)",
            Input(
                compact=True,
                value="" if priority is None else str(priority),
                type="integer",
                placeholder="0",
                id="x-priority",
            ),
        )

    def spec(self) -> ConsumerSpec:
        table: dict[str, Any] = {
            "name": self.query_one("#name", Input).value,
            "queues": list(self.query_one("#queues", SelectionList).selected),
            "on_failure": _chosen(self.query_one("#on_failure", Select)),
        }
        if (prefetch := integer("prefetch", self.query_one("#prefetch", Input).value)) is not None:
            table["prefetch"] = prefetch
        if (work := number("work_seconds", self.query_one("#work_seconds", Input).value)) is not None:
            table["work_seconds"] = work
        if (priority := integer("x-priority", self.query_one("#x-priority", Input).value)) is not None:
            table["arguments"] = {"x-priority": priority}  # the one consumer argument mqscope models
        if self.existing is not None and self.existing.manual:
            table["manual"] = True  # not a form field: kept as it is (m toggles it)
        return consumer_entry(table)

    def changes(self) -> list[TopologyChange]:
        spec, old = self.spec(), self.existing
        if old is None:
            if self.topology.consumer(spec.name) is not None:
                raise FormProblem(f"consumer {short(spec.name)}: declared twice")
            return [declare(spec)]
        return [] if spec == old else [declare(spec)]

    def label(self) -> str:
        name = self.query_one("#name", Input).value
        return f"{'add' if self.existing is None else 'edit'} consumer {short(name)}"


def _toml_value(value: Any) -> str:
    """A binding argument written back as TOML (the arguments field reads an inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ "
            + ", ".join(
                f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(v)}" for k, v in value.items()
            )
            + " }"
        )
    return json.dumps(str(value), ensure_ascii=False)


def _toml_table(arguments: Any) -> str:
    """Binding arguments as the TOML inline table the field reads ("" for none)."""
    return _toml_value(dict(arguments)) if arguments else ""
