"""The routing lens: type a key, see every binding match or not (and why); Enter publishes it.

It validates in place (key length, JSON) and never publishes itself: it posts PublishRequested and
the app hands the message to the engine's producer thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.scalar import Unit
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Select, Static

from core.scenario import Scenario
from core.topology import ExchangeSpec, Topology
from tui.explain import key_problem, verdict_lines
from tui.text import ShownText, visible
from tui.widgets.key_input import KeyInput, LensInput, pattern_suggestions

IDLE_BINDINGS = 6
"""Bindings the lens lists before a key is typed: a big exchange's full list filled the lens (and at
80x24 pushed the diagram to five rows) before it said anything about a key."""


class RoutingLens(Vertical):
    """Exchange picker, key and JSON inputs, a one-line problem slot and the binding verdicts."""

    DEFAULT_CSS = """
    RoutingLens {
        height: auto;
        & #lens-row { height: 1; }
        & #exchange { width: 24; }
        & #routing-key { width: 2fr; }
        & #message-body { width: 1fr; margin-left: 1; }
        & #lens-problem { height: 1; color: $text-muted; padding: 0 1; }
        & #lens-problem.-error { color: $error; text-style: bold; }
        & #matches-scroll { height: auto; max-height: 14; }
        & #matches { height: auto; padding: 0 1; }
    }
    """

    exchange: reactive[str] = reactive("", init=False)
    """The exchange the lens explains and publishes to."""
    hidden: reactive[bool] = reactive(False, init=False)
    """Keep the verdict to itself (a lesson asks the learner first): no matches, no preview on the canvas."""

    @dataclass
    class PublishRequested(Message):
        """The user pressed Enter on a valid key (and body)."""

        lens: RoutingLens
        exchange: str
        routing_key: str
        body: Any = None
        headers: Mapping[str, Any] = field(default_factory=dict)

        @property
        def control(self) -> RoutingLens:
            return self.lens

    @dataclass
    class Preview(Message):
        """The exchange, typed key or headers changed: the canvas highlights where the message
        would go from `exchange`."""

        lens: RoutingLens
        exchange: str
        routing_key: str | None
        headers: Mapping[str, Any] | None

        @property
        def control(self) -> RoutingLens:
            return self.lens

    def __init__(self, scenario: Scenario, *, publishes: bool = True, id: str | None = None) -> None:
        """`publishes` is False where Enter is refused (observe, tap, discovery): the hints say so."""
        super().__init__(id=id)
        self.scenario = scenario
        self.publishes = publishes
        self.topology = scenario.topology
        self.set_reactive(RoutingLens.exchange, self._first_exchange())
        self._parsed: tuple[str, tuple[Any, str | None]] | None = None
        """The body field's last text and what it parsed to."""
        self._budget: int | None = None
        """The row budget the verdicts were last folded to."""

    def _first_exchange(self) -> str:
        return self.topology.exchanges[0].name if self.topology.exchanges else ""

    def _spec(self) -> ExchangeSpec | None:
        return self.topology.exchange(self.exchange)

    def compose(self) -> ComposeResult:
        patterns = [b.routing_key for q in self.topology.queues for b in q.bindings if b.routing_key]
        script_keys = [p.routing_key for p in self.scenario.publishes if p.routing_key]
        with Horizontal(id="lens-row"):
            if len(self.topology.exchanges) > 1:
                yield Select(
                    [(Text(visible(e.name)), e.name) for e in self.topology.exchanges],
                    value=self.exchange,
                    allow_blank=False,
                    compact=True,
                    id="exchange",
                )
            yield KeyInput(
                suggestions=[*script_keys, *pattern_suggestions(patterns)],
                placeholder=self._key_placeholder(script_keys, patterns, self.publishes),
                compact=True,
                id="routing-key",
            )
            yield LensInput(placeholder=self._body_placeholder(), compact=True, id="message-body")
        yield Static(id="lens-problem", markup=False)
        with VerticalScroll(id="matches-scroll"):
            yield Static(id="matches", markup=False)

    @staticmethod
    def _key_placeholder(script_keys: list[str], patterns: list[str], publishes: bool) -> str:
        """An example from this scenario: a key its script sends, else a binding key."""
        example = next(iter(script_keys), None) or next(
            (p for p in patterns if "*" not in p and "#" not in p), None
        )
        enter = "(Enter publishes)" if publishes else "(explained, not sent)"
        return f"routing key, e.g. {visible(example)} {enter}" if example else "routing key"

    def _body_placeholder(self) -> str:
        spec = self._spec()
        if spec is not None and spec.type == "headers":
            return 'headers JSON, e.g. {"format": "pdf"}'
        return "JSON body (optional)"

    def on_mount(self) -> None:
        self._refresh_lens()

    # -- reading the inputs -------------------------------------------------------------------
    @property
    def key(self) -> str:
        return self.query_one("#routing-key", KeyInput).value

    def _json(self) -> tuple[Any, str | None]:
        """The JSON field parsed, or the one-line reason it is not JSON."""
        text = self.query_one("#message-body", Input).value.strip()
        if not text:
            return None, None
        if self._parsed is not None and self._parsed[0] == text:
            return self._parsed[1]  # every key typed re-reads the body: parse it once per change
        self._parsed = (text, self._parse(text))
        return self._parsed[1]

    @staticmethod
    def _parse(text: str) -> tuple[Any, str | None]:
        try:
            return json.loads(text), None
        except json.JSONDecodeError as exc:
            return None, f"JSON field: {exc.msg} at column {exc.colno}"
        except RecursionError:
            return None, "JSON field: nested too deeply"
        except ValueError as exc:  # e.g. an integer past Python's 4,300-digit conversion limit
            return None, f"JSON field: {str(exc).splitlines()[0]}"

    def _headers_and_body(self) -> tuple[Any, dict[str, Any] | None, str | None]:
        """(body, headers, problem): on a headers exchange the JSON field holds the headers."""
        value, problem = self._json()
        spec = self._spec()
        if spec is None or spec.type != "headers":
            return value, None, problem
        if value is not None and not isinstance(value, dict):
            return None, None, 'headers must be a JSON object, e.g. {"format": "pdf"}'
        return None, dict(value or {}), problem

    def show_topology(self, topology: Topology) -> None:
        """The topology changed while running: offer its exchanges and judge the key against its
        bindings (a deleted exchange falls back to the first one left)."""
        self.topology = topology
        options = [(Text(visible(e.name)), e.name) for e in topology.exchanges]
        if self.is_mounted and self.query("#exchange"):
            picker: Select[str] = self.query_one("#exchange", Select)
            picker.set_options(options)
        elif self.is_mounted and len(options) > 1:  # a second exchange was added: offer the choice
            current = self.exchange if topology.exchange(self.exchange) else options[0][1]
            picker = Select(options, value=current, allow_blank=False, compact=True, id="exchange")
            self.query_one("#lens-row").mount(picker, before="#routing-key")
        if topology.exchange(self.exchange) is None:
            self.exchange = self._first_exchange()  # its watcher refreshes the lens
        elif self.is_mounted:
            self._refresh_lens()

    # -- reacting -----------------------------------------------------------------------------
    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._refresh_lens()

    @on(Select.Changed, "#exchange")
    def _picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.exchange = event.value

    def watch_exchange(self) -> None:
        if not self.query("#message-body"):
            return  # not composed yet (a program under --run declared its first exchange): compose reads it
        self.query_one("#message-body", Input).placeholder = self._body_placeholder()
        self._refresh_lens()

    def watch_hidden(self) -> None:
        self._refresh_lens()

    def show_message(self, exchange: str, key: str, headers: Mapping[str, Any] | None) -> None:
        """Put a message into the fields (a lesson's reveal), so the lens explains it word by word."""
        if self.topology.exchange(exchange) is not None:
            self.exchange = exchange
            if self.query("#exchange"):
                self.query_one("#exchange", Select).value = exchange
        self.query_one("#routing-key", KeyInput).value = key
        self.query_one("#message-body", Input).value = json.dumps(dict(headers)) if headers else ""
        self._refresh_lens()

    def _refresh_lens(self) -> None:
        key = self.key
        _body, headers, json_problem = self._headers_and_body()
        problem = key_problem(key) or json_problem
        self.show_problem(problem)
        self._refresh_verdicts(key, headers)

    def _refresh_verdicts(self, key: str, headers: dict[str, Any] | None) -> None:
        """The verdicts for this key in the window's row budget, and the canvas's preview."""
        self._budget = self._row_budget()
        spec = self._spec()
        matches = self.query_one("#matches", Static)
        if spec is None:
            matches.update(Text("this scenario declares no exchange", "dim"))
            return
        if self.hidden:
            matches.update(Text("the verdict is hidden until you commit your prediction", "dim italic"))
            return
        typed = bool(key) or spec.type in ("headers", "fanout") or headers is not None
        table = self.topology.binding_table
        if not table.bindings_from(spec.name):
            matches.update(ShownText(f"exchange {spec.name} has no bindings", "dim"))
        elif typed:
            matches.update(verdict_lines(table, spec.name, key, headers, rows=self._budget))
        else:
            matches.update(self._idle_text(spec))
        self.post_message(self.Preview(self, spec.name, key if typed else None, headers))

    def _row_budget(self) -> int | None:
        """The verdict lines the window shows before it scrolls: its max-height, which app.tcss sets
        by screen size (None when it has no height in cells)."""
        height = self.query_one("#matches-scroll").styles.max_height
        if height is None or height.unit is not Unit.CELLS:
            return None
        return int(height.value)

    def on_resize(self) -> None:
        """A new screen size may give the verdicts another row budget (the problem line, which may
        hold the app's word on the last publish, stays)."""
        if self._row_budget() != self._budget:
            _body, headers, _problem = self._headers_and_body()
            self._refresh_verdicts(self.key, headers)

    def _idle_text(self, spec: ExchangeSpec) -> Text:
        text = ShownText()
        text.append(f"{spec.name} ({spec.type}) bindings: ", "dim")
        bound = self.topology.binding_table.bindings_from(spec.name)
        labels = [f"{b.destination} <- {b.routing_key or '(any)'}" for b in bound]
        text.append("; ".join(labels[:IDLE_BINDINGS]))
        if len(labels) > IDLE_BINDINGS:
            text.append(f"; and {len(labels) - IDLE_BINDINGS} more", "dim")
        text.append("\ntype a routing key: each binding shows whether it matches, and why", "dim")
        return text

    def show_problem(self, problem: str | None) -> None:
        """One line under the inputs: the reason input is refused, or a quiet hint."""
        line = self.query_one("#lens-problem", Static)
        line.set_class(problem is not None, "-error")
        if problem is not None:
            line.update(ShownText(problem))
        else:
            enter = "Enter publishes" if self.publishes else "watching: Enter publishes nothing"
            line.update(Text(f"{enter}  ↑/↓ history  → accepts a suggestion"))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        key = self.key
        self._parsed = None  # each publish gets its own freshly parsed body, shared with no other
        body, headers, json_problem = self._headers_and_body()
        problem = key_problem(key) or json_problem
        if problem is not None:
            self.show_problem(problem)
            return
        self.post_message(self.PublishRequested(self, self.exchange, key, body, headers or {}))

    def published(self, key: str) -> None:
        """The app accepted the publish: remember the key and keep it for the next Enter."""
        self.query_one("#routing-key", KeyInput).remember(key)
