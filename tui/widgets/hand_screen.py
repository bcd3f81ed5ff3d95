"""You are the consumer: the message a manual consumer holds, and the four things you can do with it.

Decisions go through the consumer's ConsumerControl (a thread-safe hand-over keyed by message id), so
a key pressed after the message was settled settles nothing else.
"""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from core.controls import MANUAL_ACTIONS
from core.engine import Engine
from core.ledger import Ledger
from tui.text import ShownText
from tui.widgets.producer_forms import FORM_CSS

HAND_REFRESH_SECONDS = 0.1
BODY_SHOWN = 300
"""Characters of a held message's body the hand window shows (the inspector shows the rest)."""

DECISIONS: dict[str, tuple[str, str, str]] = {
    "ack": ("a", "ack", "basic.ack"),
    "requeue": ("r", "requeue", "basic.reject requeue=true: back to its queue, redelivered"),
    "dead_letter": ("x", "reject", "basic.reject requeue=false: to the dead-letter exchange, if any"),
    "drop": ("d", "drop", "basic.ack without processing: discarded, never dead-lettered"),
}
"""Per decision (core.controls.MANUAL_ACTIONS): its key, its word, and the AMQP method it is."""
assert tuple(DECISIONS) == MANUAL_ACTIONS

class HandScreen(ModalScreen[None]):
    """You are the consumer: the message a manual consumer holds, and the four things you can do."""

    DEFAULT_CSS = "HandScreen {" + FORM_CSS + "}"
    BINDINGS = [
        Binding("a", "decide('ack')", "Ack"),
        Binding("r", "decide('requeue')", "Requeue"),
        Binding("x", "decide('dead_letter')", "Reject"),
        Binding("d", "decide('drop')", "Drop"),
        Binding("m", "automatic", "Automatic"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, engine: Engine, ledger: Ledger, consumer: str) -> None:
        super().__init__()
        self.engine, self.ledger, self.consumer = engine, ledger, consumer
        self._shown: str | None = "?"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="hand-message")
            keys = Text()
            for key, word, method in DECISIONS.values():
                keys.append(f"{key} ", "bold")
                keys.append(f"{word}", "bold")
                keys.append(f"  {method}\n", "dim")
            keys.append("m ", "bold")
            keys.append("automatic again   ", "")
            keys.append("Esc ", "bold")
            keys.append("close (messages keep waiting)", "")
            yield Static(keys, classes="hint")

    def on_mount(self) -> None:
        self.show_holding()
        self.set_interval(HAND_REFRESH_SECONDS, self.show_holding)

    @property
    def shown(self) -> str | None:
        """The message the window shows now (None: waiting for one)."""
        return None if self._shown == "?" else self._shown

    @property
    def holding(self) -> str | None:
        control = self.engine.controls.get(self.consumer)
        return control.holding if control is not None else None

    def show_holding(self) -> None:
        msg = self.holding
        if msg == self._shown:
            return
        self._shown = msg
        text = ShownText(f"{self.consumer}", "bold")
        if msg is None:
            text.append(" (manual): waiting for a message to be delivered")
        else:
            record = self.ledger.records.get(msg)
            text.append(" holds ")
            text.append(msg, "bold")
            if record is not None:
                text.append(" ")
                text.append(record.routing_key or '""', "cyan")
                body = json.dumps(record.body, ensure_ascii=False)
                text.append(f"\n{body[:BODY_SHOWN]}" + ("…" if len(body) > BODY_SHOWN else ""))
        self.query_one("#hand-message", Static).update(text)

    def action_decide(self, action: str) -> None:
        control = self.engine.controls.get(self.consumer)
        msg = self.holding
        if control is None or msg is None or not control.decide(msg, action):
            self.notify("no message is waiting for a decision", severity="warning", markup=False)
            return
        self.show_holding()

    def action_automatic(self) -> None:
        control = self.engine.controls.get(self.consumer)
        if control is not None:
            control.manual.clear()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


