"""The diagram canvas's colours: every style role of the diagram, derived from the app's theme.

Outcome colours stay fixed in meaning on every theme: green ack, yellow/orange requeue, magenta dead
letter, grey unroutable; message tokens get colours that are none of those.
"""

from __future__ import annotations

from rich.style import Style
from textual.color import Color
from textual.theme import Theme

from tui.presenter import high_contrast

TOKEN_COLOURS = ("#4fc1ff", "#8c9eff", "#2ec4b6", "#c3a6ff", "#f4a7c3", "#e6e6e6")
"""Per-message token colours: none of them green (ack), orange/yellow (requeue) or magenta (dead)."""
DEAD_COLOUR = "#d45fd4"
GREY = "#8a8a8a"


def diagram_styles(theme: Theme, base: Style) -> dict[str, Style]:
    """Role -> Rich style, on top of `base` (the canvas's own colour and background)."""
    fg = Color.parse(theme.foreground or ("#e0e0e0" if theme.dark else "#202020"))
    fallback_bg = theme.surface or theme.background or ("#1e1e1e" if theme.dark else "#f0f0f0")
    bg = Color.from_rich_color(base.bgcolor) if base.bgcolor else Color.parse(fallback_bg)

    def colour(value: str | None, fallback: str) -> Color:
        return Color.parse(value or fallback)

    success = colour(theme.success, "#4ebf71")
    warning = colour(theme.warning, "#ffa62b")
    error = colour(theme.error, "#ba3c5b")
    primary = colour(theme.primary, "#0178d4")
    accent = colour(theme.accent, "#ffa62b")
    secondary = colour(theme.secondary, theme.primary)
    dead = Color.parse(DEAD_COLOUR) if theme.dark else Color.parse(DEAD_COLOUR).darken(0.25)
    # How far muted and faint parts fade into the background: a projector loses what fades far.
    muted_by, faint_by, wire_by = (0.2, 0.45, 0.15) if high_contrast(theme) else (0.45, 0.72, 0.4)
    muted = fg.blend(bg, muted_by)
    faint = fg.blend(bg, faint_by)

    def st(color: Color, bold: bool = False) -> Style:
        return base + Style(color=color.rich_color, bold=bold)

    styles = {
        "bg": base,
        "box": base,
        "header": st(muted, bold=True),
        "wire": st(fg.blend(bg, wire_by)),
        "wire_dim": st(faint),
        "wire_match": st(success, bold=True),
        "wire_dead": st(dead.blend(bg, 0.25)),
        "label": st(secondary.blend(fg, 0.5)),
        "label_match": st(success, bold=True),
        "label_dim": st(faint),
        "ex_border": st(primary),
        "ex_name": st(fg, bold=True),
        "ex_type": st(accent),
        "q_border": st(primary),
        "q_name": st(fg, bold=True),
        "c_border": st(secondary.blend(fg, 0.3)),
        "c_name": st(fg, bold=True),
        "count": st(fg, bold=True),
        "muted": st(muted),
        "match": st(success, bold=True),
        "dim": st(faint),
        "bad": st(error, bold=True),
        "bar_rel": st(primary.blend(fg, 0.25)),
        "bar_ok": st(success),
        "bar_warn": st(warning),
        "bar_full": st(error),
        "st_idle": st(muted),
        "st_working": st(accent, bold=True),
        "st_paused": st(warning, bold=True),
        "st_crashed": st(error, bold=True),
        "st_disconnected": st(error),
        "st_stopped": st(muted),
        "st_waiting": st(warning, bold=True),
        "ack": st(success, bold=True),
        "requeue": st(warning, bold=True),
        "dead": st(dead, bold=True),
        "unroutable": st(Color.parse(GREY), bold=True),
        "returned": st(error, bold=True),
        "bundle": st(accent, bold=True),
        # The editing selection: its frame or label, bold on a tint of the accent.
        "selected": st(accent, bold=True) + Style(bgcolor=bg.blend(accent, 0.3).rich_color),
        # Backgrounds of one-line queues: the panel, and the depth bar filling it.
        "qbg": Style(bgcolor=(bg.blend(fg, 0.10)).rich_color),
        "qbar_rel": Style(bgcolor=(bg.blend(primary, 0.40)).rich_color),
        "qbar_ok": Style(bgcolor=(bg.blend(success, 0.35)).rich_color),
        "qbar_warn": Style(bgcolor=(bg.blend(warning, 0.40)).rich_color),
        "qbar_full": Style(bgcolor=(bg.blend(error, 0.45)).rich_color),
    }
    for i, value in enumerate(TOKEN_COLOURS):
        token = Color.parse(value)
        styles[f"tok{i}"] = st(token if theme.dark else token.darken(0.45), bold=True)
    return styles
