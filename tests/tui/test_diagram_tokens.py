"""Token journeys and counts in plain Python with a pinned clock: legs in order, flashes, bundles, speed,
and the counts a real engine run leaves behind."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
from diagram_host import delivered_and_acked, engine_events, published

from core.events import (
    Acked,
    ConsumerState,
    DeadLettered,
    Delivered,
    QueueDepth,
    Rejected,
    Requeued,
    Returned,
    Routed,
)
from core.ledger import Ledger
from core.scenario import load_scenario
from tui.widgets.diagram_layout import DiagramLayout, compute_layout
from tui.widgets.diagram_tokens import FLOOD_TOKENS, WIRE_CAP, TokenBoard

T0 = 500.0


def board_for(scenario: str = "seed") -> tuple[TokenBoard, DiagramLayout]:
    layout = compute_layout(load_scenario(scenario).topology, 120, 40)
    return TokenBoard(lambda: layout), layout


def test_a_routed_copy_travels_its_wire_from_exchange_to_queue() -> None:
    board, layout = board_for()
    board.feed(published("m1", "video.upload", ("audit_queue", "video_queue")), T0)
    assert board.moving == 2 and board.busy(T0)
    wire = layout.wires[("route", "media_exchange", "video_queue")]
    leg = next(leg for leg in board.legs if leg.wire == wire.key)
    at_start = {(s.x, s.y) for s in board.sprites(T0)}
    assert wire.path[0] in at_start
    halfway = {(s.x, s.y) for s in board.sprites(T0 + leg.duration / 2)}
    assert wire.path[len(wire.path) // 2] in halfway
    assert board.sprites(leg.end + 0.01) == []
    assert not board.busy(leg.end + 0.01)


def test_a_copy_routed_through_an_exchange_binding_travels_the_link_then_the_route() -> None:
    from core.scenario import parse_scenario

    linked = """
[[exchanges]]
name = "upstream"
type = "topic"

[[exchanges]]
name = "orders"
type = "topic"
bindings = [{ exchange = "upstream", routing_key = "order.#" }]

[[queues]]
name = "direct_q"
bindings = [{ exchange = "upstream", routing_key = "*.new" }]

[[queues]]
name = "orders_q"
bindings = [{ exchange = "orders", routing_key = "#" }]
"""
    layout = compute_layout(parse_scenario(linked, "linked.toml").topology, 120, 40)
    board = TokenBoard(lambda: layout)
    routed = Routed(msg="m1", exchange="upstream", routing_key="order.new", queues=("direct_q", "orders_q"))
    board.feed([routed], T0)
    legs = {leg.wire: leg for leg in board.legs}
    assert set(legs) == {
        ("route", "upstream", "direct_q"),
        ("link", "upstream", "orders"),
        ("route", "orders", "orders_q"),
    }
    link, route = legs[("link", "upstream", "orders")], legs[("route", "orders", "orders_q")]
    assert route.start == pytest.approx(link.end)


def test_legs_of_one_copy_run_one_after_another_then_the_ack_flashes() -> None:
    board, layout = board_for()
    board.feed(published("m1", "video.upload", ("video_queue",)), T0)
    board.feed(delivered_and_acked("m1", "video_queue"), T0)
    route, consume = board.legs
    assert consume.wire == ("consume", "video_queue", "worker")
    assert consume.start == pytest.approx(route.end)
    (flash,) = board.flashes
    assert flash.glyph == "✓" and flash.role == "ack" and flash.start == pytest.approx(consume.end)
    box = layout.consumers["worker"]
    shown = board.sprites(flash.start + 0.01)
    assert [(s.x, s.y, s.glyph) for s in shown] == [(box.x - 1, box.mid_y, "✓")]


def test_requeue_goes_back_along_the_consumer_wire_in_its_own_colour() -> None:
    board, layout = board_for()
    board.feed([Delivered(msg="m1", queue="video_queue", consumer="worker")], T0)
    later = T0 + 5
    board.feed([Requeued(msg="m1", queue="video_queue", reason="consumer crashed")], later)
    leg = board.legs[-1]
    assert leg.reverse and leg.role == "requeue"
    wire = layout.wires[("consume", "video_queue", "worker")]
    (sprite,) = board.sprites(later)
    assert (sprite.x, sprite.y) == wire.path[-1]


def test_dead_lettering_moves_to_the_dlx_then_on_to_its_queue() -> None:
    board, _ = board_for("dead_letter")
    board.feed(
        [
            DeadLettered(
                msg="m2",
                queue="orders_queue",
                reason="rejected",
                exchange="orders.dlx",
                queues=("orders_dead",),
            ),
            Delivered(msg="m2", queue="orders_dead", consumer="janitor"),
        ],
        T0,
    )
    dead, route, consume = board.legs
    assert dead.wire == ("dead", "orders_queue", "orders.dlx") and dead.role == "dead"
    assert route.wire == ("route", "orders.dlx", "orders_dead") and route.start == pytest.approx(dead.end)
    assert consume.start == pytest.approx(route.end)


def test_unroutable_and_returned_messages_flash_at_the_exchange() -> None:
    board, layout = board_for("dead_letter")
    board.feed(published("m3", "order.cancelled", (), exchange="orders"), T0)
    board.feed([Returned(msg="m4", exchange="orders", routing_key="x")], T0)
    assert board.moving == 0
    glyphs = {(s.glyph, s.role) for s in board.sprites(T0)}
    assert glyphs == {("✗", "unroutable"), ("↩", "returned")}
    box = layout.exchanges["orders"]
    assert all(s.x == box.right for s in board.sprites(T0))


def test_a_burst_keeps_a_few_tokens_per_wire_and_bundles_the_rest() -> None:
    board, layout = board_for()
    events = [e for i in range(300) for e in published(f"m{i}", "user.login", ("audit_queue",))]
    board.feed(events, T0)
    assert board.moving == WIRE_CAP
    ((x, y, text),) = board.bundle_labels(T0)
    assert text == f"\u00d7{300 - WIRE_CAP}"
    assert (x, y) in layout.wires[("route", "media_exchange", "audit_queue")].path
    assert not board.busy(T0 + 60)
    board.prune(T0 + 60)
    assert board.legs == [] and board.bundles == {}


def test_slow_motion_stretches_travel_time() -> None:
    normal, _ = board_for()
    slow, _ = board_for()
    slow.set_speed(0.25)
    normal.feed(published("m1", "video.upload", ("video_queue",)), T0)
    slow.feed(published("m1", "video.upload", ("video_queue",)), T0)
    assert slow.legs[0].duration == pytest.approx(4 * normal.legs[0].duration)


def test_without_animation_nothing_moves() -> None:
    board, _ = board_for()
    board.animate = False
    board.feed(published("m1", "video.upload", ("audit_queue", "video_queue")), T0)
    board.feed(delivered_and_acked("m1", "video_queue"), T0)
    assert board.legs == [] and board.flashes == [] and not board.busy(T0)


def test_counts_follow_crash_requeue_and_rejects_without_double_counting() -> None:
    model = Ledger(load_scenario("seed").topology)
    model.feed_all(published("m1", "video.upload", ("audit_queue", "video_queue")))
    model.feed(Delivered(msg="m1", queue="video_queue", consumer="worker"))
    assert (model.queues["video_queue"].ready, model.queues["video_queue"].unacked) == (0, 1)
    assert model.consumers["worker"].current == "m1"
    model.feed(Requeued(msg="m1", queue="video_queue", reason="consumer crashed"))
    worker = model.consumers["worker"]
    assert (worker.requeued, worker.current) == (1, None)
    assert (model.queues["video_queue"].ready, model.queues["video_queue"].unacked) == (1, 0)
    model.feed(Delivered(msg="m1", queue="video_queue", consumer="worker", redelivered=True))
    model.feed(Rejected(msg="m1", queue="video_queue", consumer="worker", action="requeue"))
    model.feed(Requeued(msg="m1", queue="video_queue", reason="rejected"))
    assert (worker.requeued, worker.processed) == (2, 1)
    model.feed(QueueDepth(queue="video_queue", ready=0, unacked=0))
    assert model.queues["video_queue"].ready == 0 and model.queues["video_queue"].waiting == {}
    assert model.queues["audit_queue"].waiting == {"m1": None}
    model.feed(Routed(msg="m9", exchange="media_exchange", routing_key="k", queues=()))
    assert model.exchanges["media_exchange"].unroutable == 1


def test_counts_after_a_real_dead_letter_run() -> None:
    events = engine_events("dead_letter")
    model = Ledger(load_scenario("dead_letter").topology)
    model.feed_all(events)
    billing, janitor = model.consumers["billing"], model.consumers["janitor"]
    assert (billing.processed, billing.acked, billing.dead_lettered) == (2, 1, 1)
    assert (janitor.processed, janitor.acked) == (4, 4)  # one reject, one overflow, two expired
    assert model.exchanges["orders"].published == 6
    assert model.exchanges["orders"].unroutable == 1
    assert model.queues["orders_queue"].dead_lettered == 1
    assert model.queues["shipping"].dead_lettered == 3
    for stats in model.queues.values():
        assert (stats.ready, stats.unacked) == (0, 0)
    board, _ = board_for("dead_letter")
    board.feed(events, T0)
    roles = {leg.role for leg in board.legs}
    assert {"token", "dead"} <= roles


def test_counts_change_when_the_token_gets_there() -> None:
    board, _ = board_for()
    events = [
        *published("m1", "video.upload", ("video_queue",)),
        *delivered_and_acked("m1", "video_queue"),
        ConsumerState(consumer="worker", state="paused"),
    ]
    times = dict(
        zip((e.kind + (getattr(e, "state", "")) for e in events), board.feed(events, T0), strict=True)
    )
    route, consume = board.legs
    assert times["published"] == T0
    assert times["routed"] == pytest.approx(route.end)
    assert times["delivered"] == pytest.approx(consume.start)
    assert times["acked"] == pytest.approx(consume.end)
    assert times["consumer_statepaused"] == pytest.approx(consume.end)  # never before the ✓ it follows


def test_working_is_derived_from_delivered_and_settled() -> None:
    """Consumers report no per-message working/idle: the model infers them, and keeps real states."""
    model = Ledger(load_scenario("seed").topology)
    worker = model.consumers["worker"]
    model.feed_all(
        [ConsumerState(consumer="worker", state="idle"), *published("m1", "video.upload", ("video_queue",))]
    )
    model.feed(Delivered(msg="m1", queue="video_queue", consumer="worker"))
    assert (worker.state, worker.detail, worker.current) == ("working", "m1 from video_queue", "m1")
    model.feed(Acked(msg="m1", queue="video_queue", consumer="worker"))
    assert (worker.state, worker.current) == ("idle", None)
    model.feed(ConsumerState(consumer="worker", state="paused"))
    model.feed_all([*published("m2", "video.upload", ("video_queue",))])
    model.feed(Delivered(msg="m2", queue="video_queue", consumer="worker"))
    model.feed(Rejected(msg="m2", queue="video_queue", consumer="worker", action="drop", error="x"))
    assert worker.state == "paused"  # a reported state is never overwritten by the derived one


def test_a_lagging_copy_jumps_but_its_counts_never_run_backwards() -> None:
    board, _ = board_for()
    events = list(published("m1", "video.upload", ("video_queue",)))
    for _ in range(6):  # a crash loop: delivered and handed back, over and over, in one batch
        events += [
            Delivered(msg="m1", queue="video_queue", consumer="worker"),
            Requeued(msg="m1", queue="video_queue", reason="consumer crashed"),
        ]
    times = board.feed(events, T0)
    starts = [leg.start for leg in board.legs]
    assert any(b < a for a, b in pairwise(starts)), "some leg jumped back to now"
    assert max(starts) - T0 <= 2.5 + 1.1
    assert times == sorted(times), "counts never show an event before an earlier one of the same copy"


def test_overlapping_flashes_at_one_place_merge_into_one() -> None:
    board, _ = board_for()
    board.animate = True
    acks = [e for i in range(500) for e in delivered_and_acked(f"m{i}", "audit_queue")]
    board.feed(acks, T0)
    ticks = [f for f in board.flashes if f.glyph == "✓"]
    assert 1 <= len(ticks) <= 500 // WIRE_CAP, "acks that flash at once share one ✓"
    assert ticks[-1].msg == "m499"


def test_a_rejected_message_leaves_the_consumer_at_once() -> None:
    model = Ledger(load_scenario("dead_letter").topology)
    model.feed_all(published("m2", "order.created", ("orders_queue",), exchange="orders"))
    model.feed(Delivered(msg="m2", queue="orders_queue", consumer="billing"))
    model.feed(Rejected(msg="m2", queue="orders_queue", consumer="billing", action="dead_letter"))
    billing = model.consumers["billing"]
    assert billing.current is None and model.queues["orders_queue"].unacked == 0
    model.feed(
        DeadLettered(
            msg="m2", queue="orders_queue", reason="rejected", exchange="orders.dlx", queues=("orders_dead",)
        )
    )
    assert (billing.dead_lettered, billing.requeued) == (1, 0)
    assert model.queues["orders_dead"].ready == 1 and model.queues["orders_queue"].dead_lettered == 1


def test_a_depth_poll_racing_a_delivery_never_shows_more_unacked_than_prefetch_allows() -> None:
    """The broker counts a copy unacked when it pushes it; `delivered` comes when the handler starts.
    A poll in between must not make the seed's prefetch-1 queue read "2 unacked"."""
    model = Ledger(load_scenario("seed").topology)
    video = model.queues["video_queue"]
    model.feed_all(published("m1", "video.upload", ("video_queue",)))
    model.feed(QueueDepth(queue="video_queue", ready=0, unacked=1))  # already pushed to the worker
    model.feed(Delivered(msg="m1", queue="video_queue", consumer="worker"))
    assert (video.ready, video.unacked) == (0, 1)
    model.feed(Acked(msg="m1", queue="video_queue", consumer="worker"))
    assert video.unacked == 0
    model.feed(QueueDepth(queue="video_queue", ready=0, unacked=3))  # others consume too: as reported
    assert video.unacked == 3


def test_a_flood_starts_a_few_tokens_per_wire_counts_the_rest_and_flashes_once_per_node() -> None:
    board, _ = board_for()
    board.wire_cap = 100  # only the flood's own bound is tested here
    events = []
    for n in range(1000):
        events += published(f"m{n}", "video.upload", ("audit_queue", "video_queue"))
        events += delivered_and_acked(f"m{n}", "video_queue")
    board.flood(events, T0)
    per_wire = Counter(leg.wire for leg in board.legs)
    assert per_wire == {
        ("route", "media_exchange", "audit_queue"): FLOOD_TOKENS,
        ("route", "media_exchange", "video_queue"): FLOOD_TOKENS,
        ("consume", "video_queue", "worker"): FLOOD_TOKENS,
    }
    assert {wire: b.count for wire, b in board.bundles.items()} == dict.fromkeys(
        per_wire, 1000 - FLOOD_TOKENS
    )
    assert [(f.glyph, f.anchor) for f in board.flashes] == [("✓", ("consumer", "worker"))]
    assert not board.busy_until and not board.shown_at  # nothing per copy kept


def test_a_flood_through_an_exchange_binding_draws_on_the_wire_into_the_queue() -> None:
    from core.scenario import parse_scenario

    linked = """
[[exchanges]]
name = "upstream"
type = "topic"

[[exchanges]]
name = "orders"
type = "topic"
bindings = [{ exchange = "upstream", routing_key = "order.#" }]

[[queues]]
name = "orders_q"
bindings = [{ exchange = "orders", routing_key = "#" }]
"""
    layout = compute_layout(parse_scenario(linked, "linked.toml").topology, 120, 40)
    board = TokenBoard(lambda: layout)
    board.wire_cap = 100
    routed = [
        Routed(msg=f"m{n}", exchange="upstream", routing_key="order.new", queues=("orders_q",))
        for n in range(50)
    ]
    board.flood(routed, T0)
    into_queue = ("route", "orders", "orders_q")
    assert {leg.wire for leg in board.legs} == {into_queue} and board.moving == FLOOD_TOKENS
    assert board.bundles[into_queue].count == 50 - FLOOD_TOKENS
