"""Routing agrees with RabbitMQ's own test cases, with a reference matcher, and explains itself."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance_cases import all_cases
from core.explain import explain_topic
from core.routing import (
    binding_key_warning,
    headers_match,
    routing_key_problem,
    split_words,
    topic_matches,
)
from core.scenario import load_scenario


def test_every_conformance_case_routes_as_rabbitmq(conformance: dict[str, Any]) -> None:
    cases = all_cases(conformance)
    assert len(cases) == 86
    wrong = []
    for name, bindings, key, expected in cases:
        got = sorted({queue for pattern, queue in bindings if topic_matches(pattern, key)})
        explained = sorted({q for p, q in bindings if explain_topic(p, key).matched})
        if got != sorted(expected) or explained != got:
            wrong.append((name, key, got, sorted(expected)))
    assert wrong == []


def test_validation_keys_match_rabbitmq(conformance: dict[str, Any]) -> None:
    section = conformance["binding_validation"]
    for key in section["accepted_binding_keys"]:
        assert binding_key_warning(key) is None, key
    for key in section["rejected_binding_keys"]:
        # Released RabbitMQ accepts these (DESIGN.md): mqscope accepts and warns.
        assert binding_key_warning(key) is not None, key


def _reference(pattern: tuple[str, ...], key: tuple[str, ...]) -> bool:
    """The textbook recursive definition of AMQP topic matching."""

    @cache
    def match(p: int, k: int) -> bool:
        if p == len(pattern):
            return k == len(key)
        if pattern[p] == "#":
            return match(p + 1, k) or (k < len(key) and match(p, k + 1))
        if k == len(key):
            return False
        return (pattern[p] == "*" or pattern[p] == key[k]) and match(p + 1, k + 1)

    return match(0, 0)


pattern_words = st.lists(st.sampled_from(["a", "b", "", "*", "#", "*a", "a#"]), max_size=7)
key_words = st.lists(st.sampled_from(["a", "b", "", "*", "#", "*a"]), max_size=7)


def _join(words: list[str]) -> str:
    return ".".join(words)


@settings(max_examples=600, deadline=None)
@given(pattern_words, key_words)
def test_matcher_agrees_with_reference(pwords: list[str], kwords: list[str]) -> None:
    pattern, key = _join(pwords), _join(kwords)
    assert topic_matches(pattern, key) == _reference(split_words(pattern), split_words(key))


@settings(max_examples=600, deadline=None)
@given(pattern_words, key_words)
def test_explanation_is_a_real_alignment(pwords: list[str], kwords: list[str]) -> None:
    pattern, key = _join(pwords), _join(kwords)
    explanation = explain_topic(pattern, key)
    assert explanation.matched == topic_matches(pattern, key)
    if explanation.matched:
        assert tuple(s.pattern_word for s in explanation.steps) == split_words(pattern)
        consumed = tuple(w for s in explanation.steps for w in s.key_words)
        assert consumed == split_words(key)
        for step in explanation.steps:
            if step.pattern_word != "#":
                assert len(step.key_words) == 1
    else:
        assert explanation.reason
        assert explanation.failed_pattern_index is not None


def test_hash_takes_zero_words() -> None:
    e = explain_topic("video.#", "video")
    assert e.matched
    assert [(s.pattern_word, s.key_words) for s in e.steps] == [("video", ("video",)), ("#", ())]
    assert "#=(zero words)" in e.summary()


def test_star_takes_an_empty_word() -> None:
    e = explain_topic("a.*.c", "a..c")
    assert e.matched
    assert e.steps[1].key_words == ("",)


def test_leading_hash_takes_zero_words() -> None:
    e = explain_topic("#.b", "b")
    assert e.matched
    assert e.steps[0].key_words == ()


def test_failure_names_the_breaking_word() -> None:
    e = explain_topic("video.#", "user.login")
    assert not e.matched
    assert (e.failed_pattern_index, e.failed_key_index) == (0, 0)
    assert "'user' is not 'video'" in e.reason


def test_failure_when_key_runs_out() -> None:
    e = explain_topic("a.*.c", "a.b")
    assert not e.matched
    assert e.failed_pattern_index == 2
    assert "key ended" in e.reason


def test_failure_when_key_has_more_words() -> None:
    e = explain_topic("*.b", "a.b.c")
    assert not e.matched
    assert "more words" in e.reason


def test_star_inside_a_word_is_literal() -> None:
    assert topic_matches("*a", "*a")
    assert not topic_matches("*a", "ba")


def test_seed_routes_like_the_tutorial() -> None:
    table = load_scenario("seed").topology.binding_table
    assert table.route("media_exchange", "video.upload").queues == ("audit_queue", "video_queue")
    assert table.route("media_exchange", "user.login").queues == ("audit_queue",)
    assert table.route("media_exchange", "video").queues == ("audit_queue", "video_queue")


@pytest.mark.parametrize(
    ("arguments", "headers", "expected"),
    [
        ({"x-match": "all", "format": "pdf", "type": "report"}, {"format": "pdf", "type": "report"}, True),
        ({"x-match": "all", "format": "pdf", "type": "report"}, {"format": "pdf"}, False),
        ({"x-match": "any", "format": "pdf", "type": "log"}, {"format": "txt", "type": "log"}, True),
        ({"x-match": "any", "format": "pdf"}, {}, False),
        ({"format": "pdf"}, {"format": "pdf", "extra": 1}, True),
        ({"x-match": "all"}, {}, True),
    ],
)
def test_headers_exchange(arguments: dict[str, Any], headers: dict[str, Any], expected: bool) -> None:
    assert headers_match(arguments, headers) is expected


def test_headers_scenario_routes() -> None:
    topology = load_scenario("headers").topology
    result = topology.binding_table.route("documents", "", {"format": "pdf", "type": "report"})
    assert result.queues == ("any_pdf_or_log", "pdf_reports")
    assert topology.binding_table.route("documents", "", {"format": "txt"}).queues == ()


def test_routing_key_over_255_bytes_is_refused() -> None:
    assert routing_key_problem("a" * 255) is None
    problem = routing_key_problem("é" * 128)
    assert problem is not None and "256 bytes" in problem
