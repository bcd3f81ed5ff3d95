"""RabbitMQ definitions JSON (the management UI's export, `rabbitmqctl export_definitions`) read as a
Scenario: one vhost's exchanges, queues and bindings, with the policies RabbitMQ would apply to them.

What the topology model cannot hold (users, permissions, parameters, arguments mqscope does not
model, other vhosts) is not an error: it is listed in the scenario's one `notice`, so a learner sees
what was left out. Bad JSON or a missing vhost is an error (one line, exit 2), as for TOML.

Policies are applied as RabbitMQ does (rabbit_policy, rabbit_amqqueue_process): among the policies of
the vhost whose `apply-to` fits and whose `pattern` (a regex, searched anywhere in the name) matches,
only the one with the highest priority applies (a tie: the first in the file). Queue arguments win
over it for dead-letter-exchange / dead-letter-routing-key / overflow (and exchange arguments for
alternate-exchange); for message-ttl, max-length, max-length-bytes, expires and delivery-limit the
smaller of the two applies.

Every queue argument mqscope:// models (core.queue_arguments: priorities, overflow, byte limits,
expiry, quorum queues with their delivery limit, single-active-consumer) is kept under RabbitMQ's own
name, and exchange-to-exchange bindings become the destination exchange's `bindings`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.publishing import MAX_TTL_SECONDS, field_table_problem
from core.queue_arguments import MODELLED, value_problem
from core.scenario import Scenario, ScenarioError
from core.text import short
from core.topology import (
    EXCHANGE_TYPES,
    BindingSpec,
    ConsumerSpec,
    ExchangeSpec,
    QueueSpec,
    Topology,
    as_exchange_type,
)

DEFAULT_VHOST = "/"
IMPORTED_CONSUMER = "worker"
"""Definitions hold no consumers: the import adds this one, on every queue, so messages settle."""
IMPORTED_WORK_SECONDS = 0.2
_MAX_MS = int(MAX_TTL_SECONDS * 1000)
_MAX_INT = 2**63 - 1

_VERSION_KEYS = {"rabbit_version", "rabbitmq_version", "product_name", "product_version", "explanation"}
_NOT_USED_KINDS = {
    "users": "user",
    "permissions": "permission",
    "topic_permissions": "topic permission",
    "parameters": "parameter",
    "global_parameters": "global parameter",
    "operator_policies": "operator policy",
}
_TOPOLOGY_KEYS = {"vhosts", "exchanges", "queues", "bindings", "policies"}
_SHORTHAND_KEYS = {"dead-letter-exchange", "dead-letter-routing-key", "message-ttl", "max-length"}
"""The policy keys (and x-arguments without `x-`) a QueueSpec holds in fields of their own."""
_QUEUE_POLICY_KEYS = _SHORTHAND_KEYS | {"max-length-bytes", "overflow", "expires", "delivery-limit"}
"""Policy keys that set a queue argument mqscope models (RabbitMQ's policy names, no `x-`)."""
_SMALLER_WINS = {"message-ttl", "max-length", "max-length-bytes", "expires", "delivery-limit"}
"""rabbit_amqqueue_process / rabbit_quorum_queue take the smaller of argument and policy for these."""
_EXCHANGE_POLICY_KEYS = {"alternate-exchange"}


def looks_like_definitions(path: str, text: str) -> bool:
    """A `.json` file, or any file whose text starts with `{` (TOML never does)."""
    return path.lower().endswith(".json") or text.lstrip().startswith("{")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


@dataclass
class _Import:
    """One import in progress: the source for error lines, the vhost, and what was not used."""

    source: str
    vhost: str
    not_used: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {problem}")

    def skip(self, what: str) -> None:
        self.not_used.append(what)


@dataclass(frozen=True)
class _Policy:
    name: str
    pattern: re.Pattern[str]
    apply_to: str
    definition: Mapping[str, Any]
    priority: float

    def applies(self, kind: str, name: str, queue_type: str = "classic") -> bool:
        fits = self.apply_to == "all" or self.apply_to == f"{kind}s" or (
            kind == "queue" and self.apply_to == f"{queue_type}_queues"
        )
        return fits and self.pattern.search(name) is not None


def parse_definitions(text: str, source: str = "<string>", vhost: str = DEFAULT_VHOST) -> Scenario:
    """Build a validated Scenario from definitions JSON; raise ScenarioError in one line."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise ScenarioError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{source}: not usable JSON: nested too deep") from None
    job = _Import(source, vhost)
    if not isinstance(data, dict) or not (_TOPOLOGY_KEYS & set(data)):
        raise job.fail("not RabbitMQ definitions (a JSON object with exchanges, queues and bindings)")
    lists = {key: _list(job, data, key) for key in _TOPOLOGY_KEYS}
    _check_vhost(job, lists)
    for key, value in data.items():
        if key in _NOT_USED_KINDS:
            count = len(value) if isinstance(value, list) else 1
            if count:
                job.skip(f"{count} {_NOT_USED_KINDS[key]}{'s' if count != 1 else ''}")
        elif key not in _TOPOLOGY_KEYS | _VERSION_KEYS:
            job.skip(f"section {short(key)}")
    mine = {key: _in_vhost(job, entries) for key, entries in lists.items() if key != "vhosts"}
    policies = _policies(job, mine["policies"])
    exchanges = _exchanges(job, mine["exchanges"], policies)
    known = {e.name for e in exchanges}
    queues = _queues(job, mine["queues"], policies, known)
    exchanges, queues = _bind(job, mine["bindings"], queues, exchanges)
    consumers = (
        (ConsumerSpec(IMPORTED_CONSUMER, tuple(q.name for q in queues), 1, IMPORTED_WORK_SECONDS),)
        if queues
        else ()
    )
    topology = Topology(exchanges=tuple(exchanges), queues=tuple(queues), consumers=consumers)
    if problems := topology.problems():
        raise job.fail(problems[0])
    others = sum(len(lists[key]) - len(entries) for key, entries in mine.items())
    if others:
        job.skip(f"{others} entr{'ies' if others != 1 else 'y'} of other vhosts")
    count = len(job.not_used)  # first, so a line cut short (stderr lines are capped) still says it
    notice = f"{source}: not used ({count}): {'; '.join(job.not_used)}" if count else None
    name = Path(source).stem or "definitions"
    return Scenario(
        name=name,
        title=f"RabbitMQ definitions, vhost {vhost}",
        topology=topology,
        publishes=(),
        source=source,
        notice=notice,
    )


def load_definitions(path: str, vhost: str = DEFAULT_VHOST) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    return parse_definitions(text, path, vhost)


# -- the file's shape ------------------------------------------------------------------------------
def _list(job: _Import, data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    raw = data.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise job.fail(f"{key}: must be an array of objects")
    return raw


def _check_vhost(job: _Import, lists: Mapping[str, list[dict[str, Any]]]) -> None:
    """The vhost must be in the file, unless the file is one vhost's export (no vhost named at all)."""
    named = [str(v.get("name")) for v in lists["vhosts"]]
    named += [str(e["vhost"]) for key in _TOPOLOGY_KEYS - {"vhosts"} for e in lists[key] if "vhost" in e]
    if named and job.vhost not in named:
        have = ", ".join(sorted({repr(v) for v in named}))
        raise job.fail(f"no vhost {short(job.vhost)} in the file (it has {have}); pick one with --vhost")


def _in_vhost(job: _Import, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if str(e.get("vhost", job.vhost)) == job.vhost]


def _text(job: _Import, entry: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise job.fail(f"{where}: {key} must be a string, not {type(value).__name__}")
    return value


# -- policies --------------------------------------------------------------------------------------
def _policies(job: _Import, entries: list[dict[str, Any]]) -> list[_Policy]:
    out: list[_Policy] = []
    for entry in entries:
        name = _text(job, entry, "name", "policy")
        where = f"policy {short(name)}"
        definition = entry.get("definition", {})
        if not isinstance(definition, dict):
            raise job.fail(f"{where}: definition must be an object")
        try:
            pattern = re.compile(_text(job, entry, "pattern", where))
        except re.error as exc:
            job.skip(f"{where} (pattern: {exc})")
            continue
        apply_to = str(entry.get("apply-to", "all"))
        priority = entry.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, (int, float)):
            raise job.fail(f"{where}: priority must be a number")
        if apply_to not in ("all", "queues", "exchanges", "classic_queues", "quorum_queues"):
            job.skip(f"{where} (applies to {short(apply_to)})")
            continue
        used = _QUEUE_POLICY_KEYS | _EXCHANGE_POLICY_KEYS
        for key in definition:
            if key not in used:
                job.skip(f"{where} key {short(key)}")
        out.append(_Policy(name, pattern, apply_to, definition, priority))
    return out


def _policy_for(
    policies: Iterable[_Policy], kind: str, name: str, queue_type: str = "classic"
) -> _Policy | None:
    """The one policy RabbitMQ applies: the highest priority that matches (a tie: the first)."""
    best: _Policy | None = None
    for policy in policies:
        if policy.applies(kind, name, queue_type) and (best is None or policy.priority > best.priority):
            best = policy
    return best


# -- exchanges -------------------------------------------------------------------------------------
def _exchanges(job: _Import, entries: list[dict[str, Any]], policies: list[_Policy]) -> list[ExchangeSpec]:
    found: list[tuple[ExchangeSpec, dict[str, Any]]] = []
    for entry in entries:
        name = _text(job, entry, "name", "exchange")
        where = f"exchange {short(name)}"
        kind = _text(job, entry, "type", where, "direct")
        if name == "" or name.startswith("amq."):
            job.skip(f"{where} (built into the broker)")
            continue
        if kind not in EXCHANGE_TYPES:
            job.skip(f"{where} of type {short(kind)}")
            continue
        arguments = _arguments(job, entry, where)
        for flag in ("auto_delete", "internal"):
            if entry.get(flag) is True:
                job.skip(f"{where} {flag}")
        alternate: str | None = None
        for key, value in arguments.items():
            if key == "alternate-exchange" and isinstance(value, str):
                alternate = value
            else:
                job.skip(f"{where} argument {short(key)}")
        policy = _policy_for(policies, "exchange", name)
        if alternate is None and policy is not None:
            value = policy.definition.get("alternate-exchange")
            alternate = value if isinstance(value, str) else None
        spec = ExchangeSpec(name, as_exchange_type(kind), entry.get("durable", True) is not False, alternate)
        found.append((spec, arguments))
    names = {spec.name for spec, _ in found}
    out = []
    for spec, _ in found:
        if spec.alternate_exchange is not None and spec.alternate_exchange not in names:
            job.skip(
                f"exchange {short(spec.name)} alternate exchange {short(spec.alternate_exchange)}, "
                "not in the file (RabbitMQ then treats its messages as unroutable, as mqscope does)"
            )
            spec = ExchangeSpec(spec.name, spec.type, spec.durable, None)
        out.append(spec)
    return out


def _arguments(job: _Import, entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    arguments = entry.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise job.fail(f"{where}: arguments must be an object")
    return arguments


# -- queues ----------------------------------------------------------------------------------------
def _queues(
    job: _Import, entries: list[dict[str, Any]], policies: list[_Policy], exchanges: set[str]
) -> list[QueueSpec]:
    out: list[QueueSpec] = []
    for entry in entries:
        name = _text(job, entry, "name", "queue")
        where = f"queue {short(name)}"
        arguments = _arguments(job, entry, where)
        for flag in ("auto_delete", "exclusive"):
            if entry.get(flag) is True:
                job.skip(f"{where} {flag}")
        kind = entry.get("type", arguments.get("x-queue-type", "classic"))
        if kind not in ("classic", "quorum"):
            job.skip(f"{where} type {short(kind)} (run as a classic queue)")
            kind = "classic"
        given: dict[str, Any] = {}
        for key, value in arguments.items():
            plain = key[2:] if key.startswith("x-") else key
            if key == "x-queue-type":
                continue
            if key in MODELLED:
                given[plain] = value
            else:
                job.skip(f"{where} argument {short(key)}")
        policy = _policy_for(policies, "queue", name, kind)
        definition = policy.definition if policy else {}
        from_policy = {k: v for k, v in definition.items() if k in _QUEUE_POLICY_KEYS}
        settings = _resolve(given, from_policy)
        extra: dict[str, Any] = {"x-queue-type": "quorum"} if kind == "quorum" else {}
        for plain, value in settings.items():
            if plain in _SHORTHAND_KEYS:
                continue
            key = f"x-{plain}"
            if plain == "single-active-consumer":
                problem = None if isinstance(value, bool) else "must be true or false"
            else:
                problem = value_problem(key, value)
            if problem is None:
                extra[key] = value
            else:
                job.skip(f"{where} {plain} {short(value)}")
        dlx = _setting(job, settings, "dead-letter-exchange", where, _is_text)
        if dlx not in (None, "") and dlx not in exchanges:
            job.skip(
                f"{where} dead-letter exchange {short(dlx)}, not in the file "
                "(RabbitMQ drops such dead letters, as mqscope does without one)"
            )
            dlx = None
        ttl = _setting(job, settings, "message-ttl", where, _ms)
        out.append(
            QueueSpec(
                name=name,
                dead_letter_exchange=dlx,
                dead_letter_routing_key=_setting(job, settings, "dead-letter-routing-key", where, _is_text),
                message_ttl=None if ttl is None else ttl / 1000,
                max_length=_setting(job, settings, "max-length", where, _count),
                durable=entry.get("durable", True) is not False,
                arguments=extra,
            )
        )
    return out


def _resolve(arguments: Mapping[str, Any], policy: Mapping[str, Any]) -> dict[str, Any]:
    """RabbitMQ's merge: the argument wins for dead-lettering and overflow; the smaller wins for
    TTL, lengths, expiry and the delivery limit."""
    out = dict(policy)
    for key, value in arguments.items():
        both_numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (value, out.get(key)))
        if key in _SMALLER_WINS and key in out and both_numbers:
            out[key] = min(value, out[key])
        else:
            out[key] = value
    return out


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _ms(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_MS


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_INT


def _setting(
    job: _Import, settings: Mapping[str, Any], key: str, where: str, valid: Callable[[Any], bool]
) -> Any:
    if key not in settings:
        return None
    value = settings[key]
    if not valid(value):
        job.skip(f"{where} {key} {short(value)}")
        return None
    return value


# -- bindings --------------------------------------------------------------------------------------
def _bind(
    job: _Import, entries: list[dict[str, Any]], queues: list[QueueSpec], exchanges: list[ExchangeSpec]
) -> tuple[list[ExchangeSpec], list[QueueSpec]]:
    """Queue bindings onto their queues; exchange-to-exchange ones onto their destination exchange."""
    to_queue: dict[str, list[BindingSpec]] = {q.name: [] for q in queues}
    to_exchange: dict[str, list[BindingSpec]] = {e.name: [] for e in exchanges}
    for entry in entries:
        source = _text(job, entry, "source", "binding", "")
        destination = _text(job, entry, "destination", "binding", "")
        key = _text(job, entry, "routing_key", "binding", "")
        where = f"binding {short(source)} -> {short(destination)} {short(key)}"
        kind = entry.get("destination_type", "queue")
        arguments = _arguments(job, entry, where)
        targets = to_exchange if kind == "exchange" else to_queue
        if source == "":
            continue  # the default exchange's bindings are implicit: every queue has one
        if source not in to_exchange:
            job.skip(f"{where} (its exchange is not used)")
        elif destination not in targets:
            job.skip(f"{where} (its {'exchange' if kind == 'exchange' else 'queue'} is not used)")
        elif (problem := field_table_problem(arguments, "arguments")) is not None:
            job.skip(f"{where} ({problem})")
        else:
            spec = BindingSpec(source, key, arguments)
            if spec not in targets[destination]:
                targets[destination].append(spec)
    return (
        [replace(e, bindings=tuple(to_exchange[e.name])) for e in exchanges],
        [replace(q, bindings=tuple(to_queue[q.name])) for q in queues],
    )
