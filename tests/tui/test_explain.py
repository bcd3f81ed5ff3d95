"""The routing lens's explanations (pure functions): alignment, zero-word '#', the breaking word."""

from __future__ import annotations

from core.explain import BindingVerdict, explain_exchange
from core.routing import Binding, BindingTable, ExchangeEntry
from core.scenario import load_scenario, parse_scenario
from test_core_e2e_scenario import LINKED
from tui.explain import route_text, verdict_lines, why_text
from tui.widgets.key_input import pattern_suggestions

SEED = load_scenario("seed").topology.binding_table


def _by_queue(
    table: BindingTable, exchange: str, key: str, headers: dict[str, str] | None = None
) -> dict[str, BindingVerdict]:
    return {v.binding.destination: v for v in explain_exchange(table, exchange, key, headers).verdicts}


def test_hash_taking_zero_words_is_said_plainly() -> None:
    by_queue = _by_queue(SEED, "media_exchange", "video")
    assert by_queue["video_queue"].matched
    assert why_text(by_queue["video_queue"]).plain == "video  #=zero words"


def test_the_word_that_broke_the_match_is_named() -> None:
    by_queue = _by_queue(SEED, "media_exchange", "user.login")
    assert not by_queue["video_queue"].matched
    assert "word 1: 'user' is not 'video'" in why_text(by_queue["video_queue"]).plain
    assert why_text(by_queue["audit_queue"]).plain == "#=user.login"
    assert route_text(SEED.route("media_exchange", "user.login")).plain == "-> audit_queue"


def test_a_refused_key_consults_no_binding() -> None:
    text = verdict_lines(SEED, "media_exchange", "k" * 256, None).plain
    assert text.startswith("✗ refused: routing key is 256 bytes")
    assert "video_queue" not in text


def test_markup_in_keys_stays_literal() -> None:
    text = verdict_lines(SEED, "media_exchange", "[red]x.[/]", None)
    assert "#=[red]x.[/]" in text.plain


def test_headers_bindings_show_each_header() -> None:
    headers = load_scenario("headers").topology.binding_table
    by_queue = _by_queue(headers, "documents", "", {"format": "pdf"})
    assert not by_queue["pdf_reports"].matched and by_queue["any_pdf_or_log"].matched
    assert "format=pdf✓" in why_text(by_queue["pdf_reports"]).plain
    assert "type=report✗" in why_text(by_queue["pdf_reports"]).plain


def test_an_exchange_binding_is_a_line_and_the_route_names_the_exchange_crossed() -> None:
    table = BindingTable(
        {"front": ExchangeEntry("direct"), "logs": ExchangeEntry("topic")},
        ("kern_any",),
        (
            Binding("front", "logs", "exchange", "kern.disk"),
            Binding("logs", "kern_any", "queue", "kern.*"),
        ),
    )
    text = verdict_lines(table, "front", "kern.disk", None).plain
    assert "✓ exchange logs  kern.disk  the key equals the binding key" in text
    assert text.endswith("-> kern_any  (through exchange logs)")


def test_pattern_suggestions_are_literal_prefixes() -> None:
    assert pattern_suggestions(["video.#", "eu.*.order", "#", "audit.log"]) == [
        "video.",
        "eu.",
        "audit.log",
    ]


def test_lens_follows_exchange_bindings_hop_by_hop() -> None:
    """Each exchange the message crosses through exchange bindings shows what it took, and the
    queue reached by three paths is listed once."""
    table = parse_scenario(LINKED, "linked.toml").topology.binding_table
    shown = verdict_lines(table, "upstream", "x.b", None).plain.splitlines()
    assert shown[2].startswith("✓ exchange downstream  *.b  *=x  b")
    assert shown[3] == "then exchange downstream (topic):"
    assert shown[4].startswith("✓ q_down  #  #=x.b")
    assert shown[-1] == "-> q_down  (through exchange downstream)"
