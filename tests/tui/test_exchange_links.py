"""Exchange-to-exchange bindings on screen: a wire left of the exchanges into the destination, whose
box names the exchanges it takes from with their binding keys (or the names alone; whole, or not at
all), the inspector lists them both ways, and every name stays whole."""

from __future__ import annotations

import asyncio

import pytest
from states import make_app, settle
from test_screen_fit import SIZES, check_canvas_names, drawn

from core.scenario import parse_scenario
from test_core_e2e_scenario import LINKED
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.inspector import node_text


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_exchange_links_show_whole(size: tuple[int, int]) -> None:
    asyncio.run(_links(size))


async def _links(size: tuple[int, int]) -> None:
    app = make_app(parse_scenario(LINKED, "linked.toml"), play_script=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, published=0)
        check_canvas_names(app)
        text = "\n".join(drawn(app.screen.query_one(DiagramCanvas)))
        box = app.session_screen.canvas.layout_geometry.exchanges["downstream"]
        rows = text.splitlines()
        assert rows[box.y + 2][box.x - 2 : box.x + 1] == "─▶│"  # the link wire arrives
        if size[0] >= 120:
            assert "╰─ ← upstream a.# | *.b ─" in text
        elif size[0] >= 100:
            assert "╰─ ← upstream ─" in text
        else:  # whole or not at all
            assert "← upstream" in text or "←" not in text
        downstream = node_text(app.ledger, "exchange", "downstream", recent=0).plain
        assert "takes from exchange upstream with 'a.#'" in downstream
        upstream = node_text(app.ledger, "exchange", "upstream", recent=0).plain
        assert "passes to exchange downstream with '*.b'" in upstream
