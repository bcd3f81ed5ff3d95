"""The teacher's controls: key bindings (F-keys work while typing in the lens) and palette commands.

Every control turns one of core's thread-safe knobs (ConsumerControl, Clock, StepGate) or publishes
through the engine; none touches the broker from the UI thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import Input

from core.engine import PublishError
from core.scenario import builtin_names
from tui.text import visible

if TYPE_CHECKING:
    from core.engine import Engine
    from core.ledger import Ledger
    from core.scenario import Scenario
    from tui.screen import SessionScreen

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
BURSTS = (10, 100, 1000)

BINDINGS: list[BindingType] = [
    Binding("f1", "inspect_last", "Inspect"),
    Binding("f2", "pause_consumer", "Pause"),
    Binding("f3", "crash_consumer", "Crash"),
    Binding("f4", "fail_next", "Fail"),
    Binding("f5", "toggle_pause_all", "Freeze"),
    Binding("f6", "step", "Step"),
    Binding("f7", "slower", "Slower"),
    Binding("f8", "faster", "Faster"),
    Binding("f9", "burst(100)", "Burst"),
    Binding("f10", "reset", "Reset"),
    Binding("ctrl+n", "next_consumer", "Worker"),
    Binding("ctrl+o", "pick_scenario", "Scenario"),
    Binding("ctrl+l", "toggle_log", "Log"),
    Binding("ctrl+t", "change_theme", "Theme", show=False),
    Binding("escape", "close_inspector", "Close inspector", show=False),
    Binding("m", "toggle_manual", "Manual", show=False),  # letters: inert while typing (Input takes them)
    Binding("h", "hand", "Hand", show=False),
    Binding("p", "add_producer", "Producer", show=False),
    Binding("plus", "scale_producers(2.0)", "Producers x2", show=False),
    Binding("minus", "scale_producers(0.5)", "Producers /2", show=False),
]


TYPING_KEEPS = frozenset({"next_consumer", "pick_scenario", "change_theme"})
"""Actions on ctrl+letter keys that do nothing while a text input has the focus: a terminal sends a
control character typed or pasted into the routing key exactly as it sends ctrl+o, and text must not
open pickers or switch the target (ctrl+n is next-line in readline; ctrl+o and ctrl+t edit in shells).
The footer shows them dimmed then; Tab to the diagram, or the palette (ctrl+p), reaches them.
F-keys, ctrl+p, ctrl+q and ctrl+l (hide or show the event log: it changes only the layout, so a stray
one costs nothing) stay global; Input's own ctrl keys (a e d w u f k x c v) are Input's."""

WATCHING_HIDES = frozenset(
    {
        "pause_consumer",
        "crash_consumer",
        "fail_next",
        "next_consumer",
        "burst",
        "toggle_manual",
        "hand",
        "add_producer",
        "scale_producers",
    }
)
"""Actions on mqscope's own consumers and producers: in observe, tap and discovery mode there are none
(the broker's consumers belong to someone else), so their keys leave the footer and the palette."""

FOOTER_RANK: list[tuple[str, ...]] = [
    ("inspect_last",),
    ("pause_consumer",),
    ("crash_consumer",),
    ("fail_next",),
    ("toggle_pause_all",),
    ("step",),
    ("slower", "faster"),
    ("pick_scenario",),
    ("next_consumer",),
    ("reset",),
    ("burst(100)",),
    ("toggle_log",),
]
"""What the footer keeps as the terminal narrows (whole groups, first ones first): the teaching controls
(inspect, make a consumer misbehave, freeze and step) before the speed, and the session controls last.
The seed at 80 columns shows F1-F6, at 100 adds F7/F8, at 120 ^n and ^o, from 150 all; the rest are in
the command palette (ctrl+p), as every control is."""


def next_speed(current: float, step: int) -> float:
    """The neighbouring speed on the 0.25x .. 4x ladder."""
    index = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - current))
    return SPEEDS[max(0, min(len(SPEEDS) - 1, index + step))]


class ControlsApp(App[int]):
    """The actions behind the bindings and the palette; MqscopeApp adds the session around them."""

    engine: Engine
    ledger: Ledger

    consumer: reactive[str | None] = reactive(None, init=False)
    """The consumer F2-F4 act on (ctrl+n cycles; clicking a consumer picks it)."""

    show_log: reactive[bool] = reactive(True, init=False)
    """Whether the event log is shown (ctrl+l): a presenter hides it to give the diagram the room."""

    @property
    def session_screen(self) -> SessionScreen:
        raise NotImplementedError

    def refresh_status(self) -> None:
        raise NotImplementedError

    async def restart(self, scenario: Scenario) -> None:
        raise NotImplementedError

    async def switch_scenario(self, name: str) -> None:
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """None (shown dimmed, not run) for TYPING_KEEPS while typing in an input; False (not shown,
        not run) for WATCHING_HIDES when mqscope only watches someone's broker."""
        if action in WATCHING_HIDES and self.watching:
            return False
        if action in TYPING_KEEPS and isinstance(self.focused, Input):
            return None
        return True

    @property
    def watching(self) -> bool:
        """Observe, tap or discovery mode: the consumers and producers are not mqscope's."""
        return self.engine.watch_only("acts") is not None

    def _target(self, name: str | None) -> str | None:
        if (refusal := self.engine.refusal) is not None:  # a replay: nobody consumes
            self.notify(refusal, severity="warning", markup=False)
            return None
        target = name or self.consumer
        if target is None or target not in self.engine.controls:
            self.notify("this scenario has no consumer", severity="warning", markup=False)
            return None
        return target

    def action_pause_consumer(self, name: str | None = None) -> None:
        """Toggle one consumer's pause: it finishes the message in hand, hands back (requeues) copies
        it was sent but had not started, and cancels its subscription, so new messages wait ready in
        the queue, where TTL still applies. Resume subscribes again."""
        if (target := self._target(name)) is None:
            return
        paused = self.engine.controls[target].paused
        if paused.is_set():
            paused.clear()
        else:
            paused.set()

    def action_crash_consumer(self, name: str | None = None) -> None:
        """Drop the consumer's connection: its unacked messages go back and are redelivered."""
        if (target := self._target(name)) is not None:
            self.engine.controls[target].crash()

    def action_fail_next(self, name: str | None = None) -> None:
        """The consumer's next message fails; its on_failure policy decides what happens."""
        if (target := self._target(name)) is not None:
            self.engine.controls[target].fail_next()
            self.notify(f"{visible(target)}: the next message will fail", markup=False)

    def action_next_consumer(self) -> None:
        """Choose which consumer F2-F4 act on."""
        names = [c.name for c in self.engine.topology.consumers]
        if names:
            current = names.index(self.consumer) if self.consumer in names else -1
            self.consumer = names[(current + 1) % len(names)]

    def action_toggle_pause_all(self) -> None:
        """Freeze every broker action (F6 then lets one through at a time)."""
        gate = self.engine.gate
        gate.resume() if gate.paused else gate.pause()
        self.refresh_status()

    def action_step(self) -> None:
        if not self.engine.gate.paused:
            self.engine.gate.pause()
        self.engine.gate.step(1)
        self.refresh_status()

    def action_set_speed(self, speed: float) -> None:
        self.engine.clock.speed = speed
        self.session_screen.canvas.set_speed(self.engine.clock.speed)
        self.refresh_status()

    def action_slower(self) -> None:
        self.action_set_speed(next_speed(self.engine.clock.speed, -1))

    def action_faster(self) -> None:
        self.action_set_speed(next_speed(self.engine.clock.speed, +1))

    def action_burst(self, count: int) -> None:
        """Publish `count` messages with the lens's key (or the script's first key)."""
        lens = self.session_screen.lens
        key = lens.key or next((p.routing_key for p in self.engine.scenario.publishes), "burst")
        try:
            requests = [self.engine.make_request(lens.exchange, key, {"burst": n}) for n in range(count)]
        except PublishError as exc:
            lens.show_problem(str(exc))  # the lens shows it as ShownText
            return
        for request in requests:
            self.engine.enqueue(request)
        self.notify(f"burst: {count} messages with key {key!r}", markup=False)

    def action_inspect_last(self) -> None:
        if self.ledger.last_msg is None:
            self.notify("nothing published yet: type a key and press Enter", markup=False)
            return
        self.session_screen.inspect("message", self.ledger.last_msg)

    def action_close_inspector(self) -> None:
        self.session_screen.close_inspector()

    def action_toggle_log(self) -> None:
        """Hide or show the event log; the diagram (or the lens, on wide screens) takes its room."""
        self.show_log = not self.show_log

    def watch_show_log(self, show: bool) -> None:
        self.session_screen.show_log(show)

    def action_pick_scenario(self) -> None:
        from core.scenario import load_scenario
        from tui.widgets.scenario_picker import ScenarioPicker

        choices = [(name, load_scenario(name).title) for name in builtin_names()]

        def chosen(name: str | None) -> None:
            if name is not None:
                self.run_worker(self.switch_scenario(name), exclusive=True, group="session")

        self.push_screen(ScenarioPicker(choices, self.engine.scenario.name), chosen)

    def action_reset(self) -> None:
        self.run_worker(self.restart(self.engine.scenario), exclusive=True, group="session")

    def control_commands(self) -> Iterable[SystemCommand]:
        """Palette entries for every control, per consumer where it applies."""
        for name in self.engine.controls:
            yield SystemCommand(
                f"Pause/resume {name}",
                "finishes its message, requeues prefetched ones, unsubscribes: new messages wait "
                "ready in the queue (TTL still applies)",
                partial(self.action_pause_consumer, name),
            )
            yield SystemCommand(
                f"Crash {name}",
                "drop its connection: unacked messages go back and are redelivered",
                partial(self.action_crash_consumer, name),
            )
            yield SystemCommand(
                f"Fail next message in {name}",
                "the next message fails: requeue, dead-letter or drop, per its policy",
                partial(self.action_fail_next, name),
            )
        if not self.watching:
            yield SystemCommand(
                "Next consumer for F2-F4", "choose which consumer F2-F4 act on", self.action_next_consumer
            )
        yield SystemCommand(
            "Freeze all / resume",
            "hold every publish and delivery where it is (not a consumer pause)",
            self.action_toggle_pause_all,
        )
        yield SystemCommand("Step one event", "while frozen, one broker action", self.action_step)
        for speed in SPEEDS:
            yield SystemCommand(
                f"Speed {speed:g}x", "simulation speed", partial(self.action_set_speed, speed)
            )
        for count in BURSTS if not self.watching else ():
            yield SystemCommand(
                f"Burst {count}",
                f"publish {count} messages with the lens's key",
                partial(self.action_burst, count),
            )
        yield SystemCommand("Reset", "restart broker and workers, same scenario", self.action_reset)
        yield SystemCommand("Switch scenario", "pick a built-in scenario", self.action_pick_scenario)
        yield SystemCommand("Inspect latest message", "open the inspector", self.action_inspect_last)
        yield SystemCommand("Close inspector", "hide the inspector (Esc)", self.action_close_inspector)
        yield SystemCommand(
            "Show/hide event log", "give the diagram the log's room (ctrl+l)", self.action_toggle_log
        )
