"""The status line names the broker kind plainly and never reads broker text as markup."""

from __future__ import annotations

import pytest

from core.records import BrokerInfo
from tui.widgets.status_line import StatusFacts, status_text


def facts(url: str, faithful: bool | None) -> StatusFacts:
    broker = BrokerInfo(url=url, state="connected", faithful=faithful)
    return StatusFacts("seed", broker, 1.0, False, "worker", 2, 0)


@pytest.mark.parametrize(
    ("url", "faithful", "label"),
    [
        ("mqscope://localhost", True, "RabbitMQ-faithful"),
        ("memory://", False, "NOT RabbitMQ-faithful"),
        ("amqp://guest:***@127.0.0.1:5672//", True, "RabbitMQ amqp://"),
    ],
)
def test_broker_kind_is_named(url: str, faithful: bool, label: str) -> None:
    assert label in status_text(facts(url, faithful)).plain


def test_broker_text_is_literal() -> None:
    text = status_text(facts("mqscope://[red]x[/]", True))
    assert "mqscope://[red]x[/]" in text.plain
