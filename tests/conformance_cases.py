"""Flatten RabbitMQ's topic test data into (bindings, routing key, expected destinations) cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CASES_FILE = Path(__file__).resolve().parent / "data" / "rabbitmq_topic_cases.json"
"""RabbitMQ's own topic tests, kept in the project so that a clone tests on its own (data/README.md)."""

Case = tuple[str, list[tuple[str, str]], str, list[str]]


def load_cases() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    return data


def routing_suite_cases(data: dict[str, Any], section: str) -> list[Case]:
    """routing_SUITE: all bindings, then some removed; phase 3 (exchange deleted) routes nowhere."""
    suite = data[section]

    # A binding is (key, queue, arguments): t27 is bound twice with the same key, other arguments.
    def ident(b: dict[str, Any]) -> tuple[str, str, str]:
        return (b["binding_key"], b["queue"], json.dumps(b.get("args", {}), sort_keys=True))

    removed = {ident(b) for b in suite["removed_bindings"]}
    bindings = [(b["binding_key"], b["queue"]) for b in suite["bindings"]]
    after = [(b["binding_key"], b["queue"]) for b in suite["bindings"] if ident(b) not in removed]
    cases: list[Case] = []
    for case in suite["phase1_all_bindings"]:
        cases.append((f"{section}/1", bindings, case["routing_key"], case["expected_queues"]))
    for case in suite["phase2_after_removal"]:
        cases.append((f"{section}/2", after, case["routing_key"], case["expected_queues"]))
    for case in suite["phase3_after_exchange_delete"]:
        cases.append((f"{section}/3", [], case["routing_key"], case["expected_queues"]))
    return cases


def db_suite_cases(data: dict[str, Any]) -> list[Case]:
    cases: list[Case] = []
    for test in data["db_topic_exchange_suite"]["tests"]:
        bindings = [(b["binding_key"], b["destination"]) for b in test["bindings"]]
        for case in test["cases"]:
            cases.append((test["test"], bindings, case["routing_key"], case["expected"]))
    return cases


def all_cases(data: dict[str, Any]) -> list[Case]:
    """Every routing case RabbitMQ's released versions agree on (current main drops >2 '#')."""
    return (
        routing_suite_cases(data, "routing_suite_current")
        + routing_suite_cases(data, "routing_suite_pre_hash_limit")
        + db_suite_cases(data)
    )
