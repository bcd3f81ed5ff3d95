"""Regenerate screenshots/*.svg and *.png from the same app states the snapshot tests use.

Usage: python scripts/screenshots.py [STATE ...]   (default: every state in tests/tui/states.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "tui")]

import cairosvg  # noqa: E402
from states import STATE_BY_NAME, SnapState, reset_broker_state  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

OUT = ROOT / "screenshots"


def render(state: SnapState) -> str:
    """Run the app headless through the state's steps and return its SVG screenshot."""
    reset_broker_state()
    app = state.app()

    async def steps(pilot: Pilot[int]) -> None:
        await state.steps(pilot)
        await pilot.pause()
        app.exit(app.export_screenshot(title=f"mqscope: {state.name}"))  # type: ignore[arg-type]

    svg = app.run(headless=True, size=state.size, auto_pilot=steps)
    assert isinstance(svg, str), f"{state.name}: the app did not return a screenshot"
    return svg


def for_png(svg: str) -> bytes:
    """cairosvg cannot fetch Textual's web font (Fira Code); a local monospace keeps the cells aligned."""
    for family in ('"Fira Code"', "Fira Code, monospace"):
        svg = svg.replace(family, '"DejaVu Sans Mono", monospace')
    return svg.encode("utf-8")


def main(names: list[str]) -> int:
    OUT.mkdir(exist_ok=True)
    for name in names or list(STATE_BY_NAME):
        state = STATE_BY_NAME.get(name)
        if state is None:
            print(f"error: unknown state {name!r} (known: {', '.join(STATE_BY_NAME)})", file=sys.stderr)
            return 2
        svg = render(state)
        (OUT / f"{name}.svg").write_text(svg, encoding="utf-8")
        cairosvg.svg2png(bytestring=for_png(svg), write_to=str(OUT / f"{name}.png"), scale=1.0)
        print(f"screenshots/{name}.svg, .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
