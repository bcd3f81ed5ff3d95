"""Headless hands --repeat messages to the producer as the window opens, not all at once."""

from __future__ import annotations

import pytest

from core.backends import DEFAULT_BROKER_URL
from core.engine import Engine, PublishError
from core.headless import WINDOW, HeadlessOptions, _Requests
from core.scenario import load_scenario


def waiting(engine: Engine) -> list[str]:
    out = []
    while (request := engine.requests.take(None)) is not None:
        out.append(request.routing_key)
    return out


def test_requests_are_made_while_fewer_than_the_window_are_unsettled() -> None:
    engine = Engine(load_scenario("seed"), DEFAULT_BROKER_URL)
    requests = _Requests(engine, HeadlessOptions(publish=["video.a", "user.b"], repeat=WINDOW))
    assert requests.total == 2 * WINDOW and requests.made == 0  # only the first round, made to check it
    requests.top_up(settled=0)
    assert waiting(engine) == ["video.a", "user.b"] * (WINDOW // 2)
    requests.top_up(settled=10)
    assert waiting(engine) == []  # refilled only once a quarter of the window is free
    requests.top_up(settled=WINDOW // 4)
    assert len(waiting(engine)) == WINDOW // 4
    requests.top_up(settled=2 * WINDOW)
    assert len(waiting(engine)) == WINDOW - WINDOW // 4 and requests.made == requests.total


def test_a_bad_key_is_refused_before_anything_is_sent() -> None:
    engine = Engine(load_scenario("seed"), DEFAULT_BROKER_URL)
    with pytest.raises(PublishError):
        _Requests(engine, HeadlessOptions(publish=["ok", "bad." + "x" * 300], repeat=5))
    assert waiting(engine) == []
