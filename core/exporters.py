"""A scenario written back out: as scenario TOML (loads back to the same topology), as RabbitMQ
definitions JSON (what `rabbitmqctl import_definitions` takes), or as a runnable kombu program
(core.kombu_program); and the one way mqscope writes such a file, never over one without asking.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from core.errors import InputError
from core.scenario import Scenario
from core.topology import Topology

ExportFormat = Literal["toml", "definitions", "kombu"]
EXPORT_FORMATS: tuple[str, ...] = ("toml", "definitions", "kombu")


class ExportError(InputError):
    """A value the format cannot carry, or a file that cannot be written: one line."""


class FileExists(ExportError):
    """The path names an existing file: the caller asks before overwriting it."""


def export(scenario: Scenario, fmt: str, *, vhost: str = "/") -> str:
    """`scenario` as text in format `fmt` (toml, definitions or kombu)."""
    if fmt == "toml":
        return to_toml(scenario)
    if fmt == "definitions":
        return to_definitions(scenario.topology, vhost)
    if fmt == "kombu":
        from core.kombu_program import to_kombu_program

        return to_kombu_program(scenario)
    raise ExportError(f"--export must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")


def write_new_file(path: str, text: str, *, overwrite: bool = False) -> Path:
    """Write `text` to `path`; an existing file raises FileExists unless `overwrite` (the caller has
    asked). Every failure is an ExportError in one line (no such directory, permission, ...)."""
    if not path.strip():
        raise ExportError("type a file name")
    target = Path(path).expanduser()
    try:
        with target.open("w" if overwrite else "x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        if target.is_dir():
            raise ExportError(f"{path}: is a directory") from None
        raise FileExists(f"{path}: exists") from None
    except IsADirectoryError:
        raise ExportError(f"{path}: is a directory") from None
    except FileNotFoundError:
        raise ExportError(f"{path}: no such directory {str(target.parent)!r}") from None
    except NotADirectoryError:
        raise ExportError(f"{path}: a part of the path is not a directory") from None
    except PermissionError:
        raise ExportError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ExportError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return target


# -- RabbitMQ definitions ------------------------------------------------------------------------
def to_definitions(topology: Topology, vhost: str = "/") -> str:
    """JSON for `rabbitmqctl import_definitions`: one vhost's exchanges, queues and bindings, with
    the arguments mqscope declares (consumers and the script are not broker objects)."""
    data = {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": e.name,
                "vhost": vhost,
                "type": e.type,
                "durable": e.durable,
                "auto_delete": False,
                "internal": False,
                "arguments": dict(e.to_kombu().arguments or {}),
            }
            for e in topology.exchanges
        ],
        "queues": [
            {
                "name": q.name,
                "vhost": vhost,
                "durable": q.durable,
                "auto_delete": False,
                "arguments": q.queue_arguments(),
            }
            for q in topology.queues
        ],
        "bindings": [
            {
                "source": b.exchange,
                "vhost": vhost,
                "destination": q.name,
                "destination_type": "queue",
                "routing_key": b.routing_key,
                "arguments": dict(b.arguments),
            }
            for q in topology.queues
            for b in q.bindings
        ]
        + [
            {
                "source": b.exchange,
                "vhost": vhost,
                "destination": e.name,
                "destination_type": "exchange",
                "routing_key": b.routing_key,
                "arguments": dict(b.arguments),
            }
            for e in topology.exchanges
            for b in e.bindings
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- scenario TOML -------------------------------------------------------------------------------
def to_toml(scenario: Scenario) -> str:
    """Scenario TOML that core.scenario.parse_scenario reads back to the same topology and script."""
    out = [f"# Written by mqscope from {_comment(scenario.source)}", "[scenario]"]
    out += [f"name = {_value(scenario.name)}", f"title = {_value(scenario.title)}"]
    topology = scenario.topology
    for e in topology.exchanges:
        out += ["", "[[exchanges]]", f"name = {_value(e.name)}", f"type = {_value(e.type)}"]
        if not e.durable:
            out.append("durable = false")
        if e.alternate_exchange is not None:
            out.append(f"alternate_exchange = {_value(e.alternate_exchange)}")
        if e.bindings:
            links = [_binding(b.exchange, b.routing_key, b.arguments) for b in e.bindings]
            out.append(f"bindings = [{', '.join(links)}]")
    for q in topology.queues:
        out += ["", "[[queues]]", f"name = {_value(q.name)}"]
        bindings = [_binding(b.exchange, b.routing_key, b.arguments) for b in q.bindings]
        out.append(f"bindings = [{', '.join(bindings)}]")
        for key in ("dead_letter_exchange", "dead_letter_routing_key", "message_ttl", "max_length"):
            if (value := getattr(q, key)) is not None:
                out.append(f"{key} = {_value(value)}")
        if not q.durable:
            out.append("durable = false")
        if q.arguments:
            out.append(f"arguments = {_table(dict(q.arguments), 'queue arguments')}")
    for c in topology.consumers:
        out += ["", "[[consumers]]", f"name = {_value(c.name)}", f"queues = {_value(list(c.queues))}"]
        out += [f"prefetch = {c.prefetch}", f"work_seconds = {_value(c.work_seconds)}"]
        out.append(f"on_failure = {_value(c.on_failure)}")
        if c.arguments:
            out.append(f"arguments = {_table(dict(c.arguments), 'consumer arguments')}")
        if c.manual:
            out.append("manual = true")
    for p in scenario.producers:
        out += ["", "[[producers]]", f"name = {_value(p.name)}", f"exchange = {_value(p.exchange)}"]
        out.append(f"rate = {_value(p.rate)}")
        if p.weighted:
            keys = ", ".join(_table({"key": k.key, "weight": k.weight}, "keys") for k in p.keys)
            out.append(f"keys = [{keys}]")
        else:
            out.append(f"keys = {_value([k.key for k in p.keys], 'keys')}")
        out.append(f"bodies = {_value(list(p.bodies), 'bodies')}")
        if p.headers:
            out.append(f"headers = {_value(dict(p.headers), 'headers')}")
    for step in scenario.publishes:
        out += ["", "[[publish]]", f"exchange = {_value(step.exchange)}"]
        out.append(f"routing_key = {_value(step.routing_key)}")
        out.append(f"body = {_value(step.body, 'body')}")
        if step.headers:
            out.append(f"headers = {_value(dict(step.headers), 'headers')}")
        out.append(f"after = {_value(step.after)}")
        if step.mandatory:
            out.append("mandatory = true")
        if step.expiration is not None:
            out.append(f"expiration = {_value(step.expiration)}")
        if step.priority is not None:
            out.append(f"properties = {_table({'priority': step.priority}, 'properties')}")
    return "\n".join(out) + "\n"


def _comment(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _binding(exchange: str, routing_key: str, arguments: Mapping[str, Any]) -> str:
    fields = {"exchange": exchange, "routing_key": routing_key}
    if arguments:
        return _table({**fields, "arguments": dict(arguments)}, "binding arguments")
    return _table(fields, "binding")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str, where: str = "string") -> str:
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ExportError(f"{where}: a lone surrogate (\\u{code:04x}) cannot be written as TOML")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key, "key")


def _table(table: Mapping[str, Any], where: str) -> str:
    if not table:
        return "{}"
    return "{ " + ", ".join(f"{_key(k)} = {_value(v, where)}" for k, v in table.items()) + " }"


def _value(value: Any, where: str = "value") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExportError(f"{where}: {value} cannot be written as TOML")
        return repr(value)
    if isinstance(value, str):
        return _string(value, where)
    if isinstance(value, Mapping):
        return _table(value, where)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    if value is None:
        raise ExportError(f"{where}: null cannot be written as TOML (it has no null)")
    raise ExportError(f"{where}: a {type(value).__name__} cannot be written as TOML")
