"""The top line: scenario, broker (and whether it behaves like RabbitMQ), connection, speed, pause.

Rebuilt from plain values as Text; broker URLs and names are never read as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from core.records import BrokerInfo


@dataclass(frozen=True)
class StatusFacts:
    """Everything the status line shows; equal facts mean no repaint."""

    scenario: str
    broker: BrokerInfo
    speed: float
    paused: bool
    consumer: str | None
    published: int
    in_flight: int


def status_text(facts: StatusFacts) -> Text:
    """Most important first, so a narrow terminal cuts the least useful part."""
    text = Text()
    text.append(" mqscope ", "bold reverse")
    text.append(f" {facts.scenario}", "bold")
    if facts.paused:
        text.append("  ")
        text.append(" FROZEN: F6 steps, F5 resumes ", "bold reverse yellow")
    text.append(" │ ", "dim")
    if facts.broker.url.startswith(("amqp://", "pyamqp://")):
        text.append("RabbitMQ", "green")  # not "faithful to" RabbitMQ: it is RabbitMQ
    elif facts.broker.faithful is True:
        text.append("RabbitMQ-faithful", "green")
    elif facts.broker.faithful is False:
        text.append("NOT RabbitMQ-faithful", "bold yellow")
    text.append(" ")
    text.append(facts.broker.url or "broker", "cyan")
    state = facts.broker.state
    text.append(" ")
    text.append(state, "green" if state == "connected" else "bold red" if state == "error" else "yellow")
    text.append(" │ ", "dim")
    text.append(f"{facts.speed:g}x", "bold" if facts.speed != 1 else "")
    text.append(" │ ", "dim")
    text.append(f"{facts.published} sent, {facts.in_flight} in flight")
    if facts.consumer:
        text.append(" │ ", "dim")
        text.append("F2-F4: ", "dim")
        text.append(facts.consumer, "bold")
    return text


class StatusLine(Static):
    """One line at the top; `show` repaints only when the facts changed."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.facts: StatusFacts | None = None

    def show(self, facts: StatusFacts) -> None:
        if facts != self.facts:
            self.facts = facts
            self.update(status_text(facts), layout=False)  # one fixed row: no re-layout
