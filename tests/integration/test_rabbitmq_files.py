"""Exports against the real RabbitMQ: the exported definitions are what `rabbitmqctl import_definitions`
takes and give the same queues, arguments and bindings (`list_queues`, `list_bindings`); what
`rabbitmqctl export_definitions` writes back reads as the same topology; the exported kombu program
settles the same messages the same way on RabbitMQ as on mqscope://.

Each test works in a vhost of its own, made fresh and deleted after, so nothing leaks between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from rabbit_support import ROOT, RabbitBroker

from core.definitions import parse_definitions
from core.exporters import export, to_definitions
from core.scenario import builtin_names, load_scenario
from core.scenario_files import open_scenario
from core.topology import Topology

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def vhost(rabbit: RabbitBroker, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh vhost named after the test, with the URL's user allowed everything in it."""
    name = "mqscope-files-" + request.node.name.replace("[", "-").rstrip("]")
    rabbit.ctl("add_vhost", name)
    user = urlsplit(rabbit.url).username or "guest"
    rabbit.ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    try:
        yield name
    finally:
        rabbit.ctl("delete_vhost", name)


def _url(rabbit: RabbitBroker, vhost: str) -> str:
    parts = urlsplit(rabbit.url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))


def _listed(rabbit: RabbitBroker, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(rabbit.ctl(*args, "--formatter", "json") or "[]")
    for row in rows:  # rabbitmqctl lists arguments as [name, type, value] triples
        if "arguments" in row:
            row["arguments"] = {name: value for name, _type, value in row["arguments"]}
    return rows


def _sorted(topology: Topology) -> Topology:
    """RabbitMQ lists in its own order: compare as sets (the consumers are not broker objects)."""
    queues = (replace(q, bindings=tuple(sorted(q.bindings, key=repr))) for q in topology.queues)
    exchanges = (replace(e, bindings=tuple(sorted(e.bindings, key=repr))) for e in topology.exchanges)
    return Topology(
        exchanges=tuple(sorted(exchanges, key=lambda e: e.name)),
        queues=tuple(sorted(queues, key=lambda q: q.name)),
    )


SHOP = str(ROOT / "tests" / "data" / "definitions_shop.json")


@pytest.mark.parametrize("name", [*builtin_names(), SHOP], ids=[*builtin_names(), "shop_import"])
def test_exported_definitions_import_into_rabbitmq(rabbit: RabbitBroker, vhost: str, name: str) -> None:
    topology = open_scenario(name).topology
    rabbit.ctl("import_definitions", stdin=to_definitions(topology, vhost))

    queues = _listed(rabbit, "list_queues", "-p", vhost, "name", "durable", "arguments")
    assert sorted((q["name"], q["durable"], q["arguments"]) for q in queues) == sorted(
        (q.name, q.durable, q.queue_arguments()) for q in topology.queues
    )
    bindings = _listed(
        rabbit, "list_bindings", "-p", vhost,
        "source_name", "destination_name", "destination_kind", "routing_key", "arguments",
    )  # fmt: skip
    assert sorted(
        (b["source_name"], b["destination_name"], b["destination_kind"], b["routing_key"], b["arguments"])
        for b in bindings
        if b["source_name"] != ""  # the default exchange's implicit binding of every queue
    ) == sorted(
        [
            *((b.exchange, q.name, "queue", b.routing_key, dict(b.arguments))
              for q in topology.queues for b in q.bindings),
            *((b.exchange, e.name, "exchange", b.routing_key, dict(b.arguments))
              for e in topology.exchanges for b in e.bindings),
        ]
    )  # fmt: skip
    exchanges = _listed(rabbit, "list_exchanges", "-p", vhost, "name", "type", "arguments")
    mine = [e for e in exchanges if e["name"] and not e["name"].startswith("amq.")]  # not built-ins
    assert sorted((e["name"], e["type"], e["arguments"]) for e in mine) == sorted(
        (e.name, e.type, dict(e.to_kombu().arguments or {})) for e in topology.exchanges
    )

    # and what RabbitMQ exports of it reads back as the same topology
    exported = rabbit.ctl("export_definitions", "-")
    again = parse_definitions(exported, "export.json", vhost)
    assert _sorted(again.topology) == _sorted(topology)


def _run_program(path: Path, url: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(path), url, "60"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=path.parent,
    )
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.splitlines())


@pytest.mark.parametrize("name", ["dead_letter", "seed", "headers"])
def test_kombu_program_settles_the_same_on_rabbitmq_and_mqscope(
    rabbit: RabbitBroker, vhost: str, name: str, tmp_path: Path
) -> None:
    program = tmp_path / f"{name}.py"
    program.write_text(export(load_scenario(name), "kombu"))
    on_rabbitmq = _run_program(program, _url(rabbit, vhost))
    assert on_rabbitmq, "the program settled nothing"
    assert on_rabbitmq == _run_program(program, "mqscope://")
