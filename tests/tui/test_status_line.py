"""The status line names the broker kind plainly and never reads broker text as markup."""

from __future__ import annotations

import pytest

from core.records import BrokerInfo
from tui.widgets.status_line import FIT_STEPS, StatusFacts, status_text, worded


def facts(url: str, faithful: bool | None) -> StatusFacts:
    broker = BrokerInfo(url=url, state="connected", faithful=faithful)
    return StatusFacts("seed", broker, 1.0, False, "worker", 2, 0)


def broker_part(url: str, faithful: bool | None) -> str:
    """The status line's broker field: between the first two separators."""
    return status_text(facts(url, faithful)).plain.split(" │ ")[1]


@pytest.mark.parametrize(
    ("url", "faithful", "shown"),
    [
        # Whole fields: "RabbitMQ-faithful" is also a substring of "NOT RabbitMQ-faithful".
        ("mqscope://localhost", True, "RabbitMQ-faithful mqscope://localhost connected"),
        ("memory://", False, "NOT RabbitMQ-faithful memory:// connected"),
        ("amqp://guest:***@127.0.0.1:5672//", True, "RabbitMQ amqp://guest:***@127.0.0.1:5672// connected"),
    ],
)
def test_broker_kind_is_named(url: str, faithful: bool, shown: str) -> None:
    assert broker_part(url, faithful) == shown


def test_broker_text_is_literal() -> None:
    text = status_text(facts("mqscope://[red]x[/]", True))
    assert "mqscope://[red]x[/]" in text.plain


def test_narrow_widths_drop_whole_pieces_never_cut_words() -> None:
    """At every width the shortest wording fits in, the line fits; what it shows is words of the full
    line, never a cut one, and the scenario, the broker kind, its state and what is in flight stay."""
    full = status_text(facts("mqscope://localhost", True))
    frozen = StatusFacts(
        "dead_letter", BrokerInfo("memory://", "connected", False), 0.25, True, "janitor", 120, 17
    )
    for fact in (facts("mqscope://localhost", True), frozen):
        whole = set(status_text(fact).plain.split())
        for width in range(worded(fact, FIT_STEPS[-1]).cell_len, 161):
            text = status_text(fact, width)
            assert text.cell_len <= width, (width, text.plain)
            assert set(text.plain.split()) <= whole | {"F2-4", "faithful", "FROZEN"}, (width, text.plain)
            for word in (fact.scenario, "connected", "in flight", f"{fact.in_flight}"):
                assert word in text.plain, (width, word)
    assert status_text(frozen, 80).plain.count("NOT") == 1
    assert "mqscope://localhost" in full.plain and "mqscope://localhost" not in status_text(frozen, 80).plain


def test_a_long_title_gives_way_to_its_short_name_only_when_nothing_else_fits() -> None:
    """A lesson's title (tui.lesson_app) is the line's first words; only at the last step, when all
    else has gone, does its short name stand in for it."""
    lesson = StatusFacts(
        "Topic exchange: # is zero or more words", BrokerInfo("mqscope://", "connected", True),
        1.0, False, "worker", 2, 0, short_scenario="topic_hash",
    )
    widest_without = worded(lesson, FIT_STEPS[-2]).cell_len
    assert status_text(lesson, widest_without).plain.startswith(" Topic exchange: # is zero or more words │")
    narrow = status_text(lesson, widest_without - 1).plain
    assert narrow.startswith(" topic_hash │") and len(narrow) <= widest_without - 1
