"""The presenter theme: mqscope on a projector, read from the back of a classroom.

Projectors wash out mid-tones: greys that are plain on a monitor vanish on a screen, and thin dim
lines with them. This theme is pure white on pure black with saturated colours, and it asks the
diagram (tui/widgets/diagram_palette.py, through the `mqscope-contrast` variable) to dim inactive
wires and labels far less. Outcome colours keep their meaning: green ack, orange requeue, red error.
"""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES, Theme

PRESENTER = "presenter"

PRESENTER_THEME = Theme(
    name=PRESENTER,
    primary="#00d7ff",  # borders of exchanges and queues, the lens: bright cyan on black
    secondary="#5fafff",
    accent="#ffff5f",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#262626",
    success="#00ff5f",
    warning="#ffaf00",
    error="#ff5f5f",
    boost="#ffffff",
    dark=True,
    variables={
        "mqscope-contrast": "high",
        "footer-key-foreground": "#ffff5f",
        "footer-description-foreground": "#ffffff",
        "input-cursor-background": "#ffffff",
        "input-cursor-foreground": "#000000",
        "input-selection-background": "#005f87",
        "border": "#00d7ff",
        "border-blurred": "#8a8a8a",
    },
)
"""Registered on every MqscopeApp; `--theme presenter` starts with it, ctrl+t picks it."""

THEMES: dict[str, Theme] = {PRESENTER: PRESENTER_THEME}
"""mqscope's own themes (registered on the app beside Textual's built-in ones)."""


def theme_names() -> list[str]:
    """Every theme `--theme` accepts: mqscope's own, then Textual's built-in ones."""
    return [*THEMES, *sorted(BUILTIN_THEMES)]


def high_contrast(theme: Theme) -> bool:
    """Whether a theme asks the diagram to keep inactive parts readable (less dimming)."""
    return theme.variables.get("mqscope-contrast") == "high"
