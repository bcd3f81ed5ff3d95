"""The top line: scenario, broker (and whether it behaves like RabbitMQ), connection, speed, pause.

Rebuilt from plain values as Text; broker URLs and names are never read as markup. It never cuts a
word: at narrower widths it says less (`FIT_STEPS`), least useful first, and repaints on resize.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from core.records import BrokerInfo
from tui.text import LineText


@dataclass(frozen=True)
class StatusFacts:
    """Everything the status line shows; equal facts mean no repaint."""

    scenario: str
    """What is on: the scenario's name, or a lesson's title (tui.lesson_app)."""
    broker: BrokerInfo
    speed: float
    paused: bool
    consumer: str | None
    published: int
    in_flight: int
    rates: tuple[float, float] | None = None
    """(offered, delivered) msg/s, smoothed, while producers run (tui.producer_controls)."""
    short_scenario: str | None = None
    """A shorter name for `scenario` when the line is narrow (a lesson's name for its title)."""


@dataclass(frozen=True)
class Wording:
    """How much the status line says; each FIT_STEPS entry says less than the one before."""

    badge: bool = True
    url: bool = True
    frozen_help: bool = True
    sent: bool = True
    consumer_label: bool = True
    consumer: bool = True
    short_kind: bool = False
    rate_words: bool = True
    long_title: bool = True


FIT_STEPS = (
    Wording(),
    Wording(url=False),  # the URL is in the event log's first lines; the broker kind stays
    Wording(url=False, rate_words=False),
    Wording(url=False, rate_words=False, frozen_help=False),  # the footer names F5 and F6
    Wording(url=False, rate_words=False, frozen_help=False, badge=False),
    Wording(url=False, rate_words=False, frozen_help=False, badge=False, sent=False),
    Wording(url=False, rate_words=False, frozen_help=False, badge=False, sent=False, consumer_label=False),
    Wording(url=False, rate_words=False, frozen_help=False, badge=False, sent=False, consumer=False),
    Wording(
        url=False, rate_words=False, frozen_help=False, badge=False, sent=False, consumer=False,
        short_kind=True,
    ),
    Wording(
        url=False, rate_words=False, frozen_help=False, badge=False, sent=False, consumer=False,
        short_kind=True, long_title=False,
    ),
)
"""At 80 columns the seed reads ` seed │ RabbitMQ-faithful connected │ 4x │ 2 sent, 0 in flight │
F2-F4: worker`; the full line (with the URL) needs about 105."""
SEPARATOR = (" │ ", "dim")


def status_text(facts: StatusFacts, width: int | None = None) -> Text:
    """The fullest wording that fits `width` cells (all of it when width is None)."""
    text = Text()
    for wording in FIT_STEPS:
        text = worded(facts, wording)
        if width is None or text.cell_len <= width:
            break
    return text


def worded(facts: StatusFacts, say: Wording) -> Text:
    """Most important first: scenario, pause, broker kind and state, speed, counts, F2-F4's target."""
    text = LineText()
    if say.badge:
        text.append(" mqscope ", "bold reverse")
    title = facts.scenario if say.long_title or facts.short_scenario is None else facts.short_scenario
    text.append(f" {title}", "bold")
    if facts.paused:
        text.append("  ")
        banner = " FROZEN: F6 steps, F5 resumes " if say.frozen_help else " FROZEN "
        text.append(banner, "bold reverse yellow")
    text.append(*SEPARATOR)
    if facts.broker.url.startswith(("amqp://", "pyamqp://")):
        text.append("RabbitMQ", "green")  # not "faithful to" RabbitMQ: it is RabbitMQ
    elif facts.broker.faithful is True:
        text.append("faithful" if say.short_kind else "RabbitMQ-faithful", "green")
    elif facts.broker.faithful is False:
        text.append("NOT faithful" if say.short_kind else "NOT RabbitMQ-faithful", "bold yellow")
    if say.url:
        text.append(" ")
        text.append(facts.broker.url or "broker", "cyan")
    state = facts.broker.state
    text.append(" ")
    text.append(state, "green" if state == "connected" else "bold red" if state == "error" else "yellow")
    text.append(*SEPARATOR)
    text.append(f"{facts.speed:g}x", "bold" if facts.speed != 1 else "")
    text.append(*SEPARATOR)
    if say.sent:
        text.append(f"{facts.published} sent, ")
    text.append(f"{facts.in_flight} in flight")
    if facts.rates is not None:
        offered, delivered = facts.rates
        text.append(*SEPARATOR)
        text.append(f"{_rate(offered)}/s", "bold")
        text.append(" offered, " if say.rate_words else " in, ")
        text.append(f"{_rate(delivered)}/s", "bold")
        text.append(" delivered" if say.rate_words else " out")
    if facts.consumer and say.consumer:
        text.append(*SEPARATOR)
        text.append("F2-F4: " if say.consumer_label else "F2-4 ", "dim")
        text.append(facts.consumer, "bold")
    return text


def _rate(per_second: float) -> str:
    """A rate as it reads best: 0.3, 12.5, 480."""
    return f"{per_second:.1f}" if per_second < 100 else f"{per_second:.0f}"


class StatusLine(Widget):
    """One line at the top; `show` repaints only when the facts changed, a resize rewords it."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.facts: StatusFacts | None = None

    def show(self, facts: StatusFacts) -> None:
        if facts != self.facts:
            self.facts = facts
            self.refresh()  # one fixed row: a repaint, no re-layout

    def render(self) -> Text:
        if self.facts is None:
            return Text()
        return status_text(self.facts, self.content_region.width)
