"""The routing lens's explanations (pure functions): alignment, zero-word '#', the breaking word."""

from __future__ import annotations

from core.scenario import load_scenario
from tui.explain import destination, verdict_lines, verdicts
from tui.widgets.key_input import pattern_suggestions

SEED = load_scenario("seed").topology
MEDIA = SEED.exchanges[0]


def test_hash_taking_zero_words_is_said_plainly() -> None:
    by_queue = {v.queue: v for v in verdicts(SEED, MEDIA, "video", None)}
    assert by_queue["video_queue"].matched
    assert by_queue["video_queue"].why.plain == "video  #=zero words"


def test_the_word_that_broke_the_match_is_named() -> None:
    by_queue = {v.queue: v for v in verdicts(SEED, MEDIA, "user.login", None)}
    assert not by_queue["video_queue"].matched
    assert "word 1: 'user' is not 'video'" in by_queue["video_queue"].why.plain
    assert by_queue["audit_queue"].why.plain == "#=user.login"
    assert destination(SEED, "media_exchange", "user.login", None).plain == "-> audit_queue"


def test_a_refused_key_consults_no_binding() -> None:
    text = verdict_lines(SEED, MEDIA, "k" * 256, None).plain
    assert text.startswith("✗ refused: routing key is 256 bytes")
    assert "video_queue" not in text


def test_markup_in_keys_stays_literal() -> None:
    text = verdict_lines(SEED, MEDIA, "[red]x.[/]", None)
    assert "#=[red]x.[/]" in text.plain


def test_headers_bindings_show_each_header() -> None:
    headers = load_scenario("headers").topology
    documents = headers.exchanges[0]
    by_queue = {v.queue: v for v in verdicts(headers, documents, "", {"format": "pdf"})}
    assert not by_queue["pdf_reports"].matched and by_queue["any_pdf_or_log"].matched
    assert "format=pdf✓" in by_queue["pdf_reports"].why.plain
    assert "type=report✗" in by_queue["pdf_reports"].why.plain


def test_pattern_suggestions_are_literal_prefixes() -> None:
    assert pattern_suggestions(["video.#", "eu.*.order", "#", "audit.log"]) == [
        "video.",
        "eu.",
        "audit.log",
    ]
