"""The mqscope app: runs a Engine's loops as thread workers and shows their events once per frame.

The app owns the session (engine, workers, model); the SessionScreen owns the widgets. A frame timer
drains the engine's event stream and hands the whole batch to the screen: never one message per event.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Callable, Iterable, Sequence

from rich.console import RenderableType
from rich.text import Text
from rich.traceback import Traceback
from textual import on
from textual.app import SystemCommand
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from core.engine import Engine, PublishError
from core.eventlog import describe
from core.events import BrokerStatus, FlowEvent, InternalError, ScriptEnded
from core.ledger import Ledger
from core.scenario import Scenario, ScenarioError
from core.scenario_files import open_scenario
from core.script_run import ScriptRun
from tui.controls import BINDINGS
from tui.file_commands import file_commands
from tui.palette import PlainCommands
from tui.presenter import THEMES
from tui.producer_controls import ProducerControls
from tui.scope_commands import scope_commands
from tui.screen import SessionScreen
from tui.text import visible_lines
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.error_screen import ErrorScreen
from tui.widgets.routing_lens import RoutingLens
from tui.widgets.status_line import StatusFacts
from tui.workers import EngineWorkers, EventWaker

FRAME_SECONDS = 1 / 30
QUIET_FRAMES = 15
"""After this many empty frames (0.5 s) the frame timer sleeps until the waker sees events."""
FULL_GC_AT_LEAST_EVERY = 30.0  # seconds: a steady flow may defer full collections, not forever
SWITCH_INTERVAL = 0.005
"""Seconds a thread may keep the GIL while others wait (CPython's default, set and restored on purpose).
20 ms slices once let a frame finish in one slice when whole-canvas frames took tens of ms; since the
producer waits for the screen (SCREEN_LAG) and frames repaint only changed rows, short slices get the
UI thread back sooner: lower latency and more frames under load. Measured by benchmarks/bench_tui.py
(--switch-interval; figures and history: benchmarks/NOTES.md)."""
STATUS_SECONDS = 0.1
"""While events flow, the status line's counts are rebuilt at most this often (its text is rebuilt and
repainted for every change, each frame under load); the first quiet frame shows the last counts, and a
frame that settles every message shows them at once."""
SCREEN_LAG = 0.05
"""Seconds an event may wait undrained before the producer waits for the screen (EventStream.max_lag):
a broker faster than the UI would otherwise build a backlog that grows for ever, with seconds between
a message and its token. About one and a half frames: a frame that runs late does not stop it."""
FrameHook = Callable[[Sequence[FlowEvent]], None]


class MqscopeApp(ProducerControls):
    """Watch messages flow through one scenario; reset and scenario switches start a fresh session."""

    CSS_PATH = "app.tcss"
    TITLE = "mqscope"
    BINDINGS = BINDINGS
    COMMANDS = {PlainCommands}
    """The system commands with literal titles: Textual's own provider reads titles as markup."""
    HORIZONTAL_BREAKPOINTS = [(0, "-slim"), (120, "-narrow"), (150, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    def __init__(
        self,
        engine: Engine,
        *,
        play_script: bool = True,
        theme: str | None = None,
        script: ScriptRun | None = None,
    ) -> None:
        """`theme`: a theme name to start with (tui.presenter's own or Textual's); `script`: --run's."""
        super().__init__()
        for own in THEMES.values():
            self.register_theme(own)
        if theme is not None:
            self.theme = theme
        self.engine = engine
        engine.events.max_lag = SCREEN_LAG  # a reset's engine keeps it (Engine.renewed)
        self.play_script = play_script
        self.script = script
        """--run: the user's program, started once the broker is up; stopped on quit."""
        self.ledger = Ledger(engine.topology, broker_url=engine.backend.display_url())
        """The one fold of this session's events: the status line, inspector and log read it."""
        self.engine_workers: EngineWorkers | None = None
        self.frame_hooks: list[FrameHook] = []
        """Called after each frame with its batch (benchmarks and tests observe frames here)."""
        self.frames = 0
        self._quiet_frames = 0
        self._gc_threshold = gc.get_threshold()
        self._switch_interval = sys.getswitchinterval()
        self._last_full_gc = time.monotonic()
        self._waker = EventWaker(
            lambda: self.engine.events, self._events_waiting, on_failure=self._waker_failed
        )
        self._waker_alive = True
        self.error_screen: ErrorScreen | None = None
        """Shown since the first internal error (a bug), whatever thread reported it."""
        self.events_handled = 0
        self._status_shown = -STATUS_SECONDS
        self._status_stale = False
        self._session_screen = SessionScreen(engine, self.ledger)
        self.set_reactive(MqscopeApp.consumer, self._first_consumer())

    def _first_consumer(self) -> str | None:
        consumers = self.engine.topology.consumers
        return consumers[0].name if consumers else None

    @property
    def session_screen(self) -> SessionScreen:
        return self._session_screen

    def on_mount(self) -> None:
        self.push_screen(self._session_screen)  # pushed (not the default screen) so a reset can swap it
        if (notice := self.engine.scenario.notice) is not None:  # what an import could not use
            self.notify(visible_lines(notice), severity="warning", timeout=15, markup=False)
        self._start_workers()
        _defer_full_collections()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._pump_timer = self.set_interval(FRAME_SECONDS, self.pump, name="event pump")
        self._waker.start()
        self.start_rate_meters()
        self.refresh_status()
        if self.script is not None:
            self.run_worker(self._start_script, name="script start", thread=True, exit_on_error=False)

    def _start_script(self) -> None:
        """Start the program once the engine's broker is up (its listener sees the first publish)."""
        script, declared = self.script, self.engine.declared
        while script is not None and not declared.wait(0.1):
            if get_current_worker().is_cancelled:
                return
        if script is not None:
            script.start()

    def _start_workers(self) -> None:
        self.engine_workers = EngineWorkers(self.engine, play_script=self.play_script)
        self.engine_workers.start()

    # -- the frame ----------------------------------------------------------------------------
    def pump(self) -> None:
        """Drain everything the broker threads reported since the last frame; one batch to the screen."""
        if not self._session_screen.is_attached:
            return  # between sessions, or shutting down: events wait in the stream
        events = self.engine.events.drain()
        if not events:
            if self._status_stale:
                self.refresh_status()
            self._quiet_frames += 1
            if self._quiet_frames >= QUIET_FRAMES and self._waker_alive:
                self._pump_timer.pause()  # nothing to draw: no timer until the waker says so
                self._waker.sleeping.set()
                self._collect_fully()  # the full collection deferred while messages flowed
            return
        self._quiet_frames = 0
        if time.monotonic() - self._last_full_gc > FULL_GC_AT_LEAST_EVERY:
            self._collect_fully()
        self.frames += 1
        self.events_handled += len(events)
        self._session_screen.apply(events)
        self._show_errors(events)
        if not self.ledger.in_flight or time.monotonic() - self._status_shown >= STATUS_SECONDS:
            self.refresh_status()  # a settled session shows its final counts in the same frame
        else:
            self._status_stale = True
        for hook in self.frame_hooks:
            hook(events)

    def _collect_fully(self) -> None:
        gc.collect()
        self._last_full_gc = time.monotonic()

    class EventsWaiting(Message):
        """Broker events arrived after a quiet spell (posted by the waker thread)."""

    def _events_waiting(self) -> None:
        self.post_message(self.EventsWaiting())

    def on_mqscope_app_events_waiting(self) -> None:
        self._quiet_frames = 0
        self._pump_timer.resume()
        self.pump()

    class WakerFailed(Message):
        """The waker thread died (its InternalError is on the stream): the frame timer must not sleep."""

    def _waker_failed(self) -> None:
        self.post_message(self.WakerFailed())

    def on_mqscope_app_waker_failed(self) -> None:
        self._waker_alive = False
        self._waker.sleeping.clear()
        self._pump_timer.resume()

    def _show_errors(self, events: Sequence[FlowEvent]) -> None:
        """A bug shows on an error screen (never a fading toast); a loop refused by the broker
        (bad input: wrong password, missing exchange) is one line, as the status line also says."""
        for event in events:
            if isinstance(event, InternalError):
                if self.error_screen is None or not self.error_screen.is_attached:
                    self.error_screen = ErrorScreen(event)
                    self.push_screen(self.error_screen, callback=self._error_screen_closed)
                else:
                    self.error_screen.add(event)
            elif isinstance(event, ScriptEnded):
                text = describe(event, lambda _msg: None)
                self.notify(text, severity="error" if event.exit_code else "information", markup=False)
            elif isinstance(event, BrokerStatus) and event.state == "error":
                self.notify(visible_lines(event.detail), severity="error", timeout=10, markup=False)

    def _error_screen_closed(self, _result: None) -> None:
        self.error_screen = None

    def refresh_status(self) -> None:
        ledger = self.ledger
        self._status_shown, self._status_stale = time.monotonic(), False
        title, short_title = self.status_title()
        facts = StatusFacts(
            scenario=title,
            short_scenario=short_title,
            broker=ledger.broker,
            speed=self.engine.clock.speed,
            paused=self.engine.gate.paused,
            consumer=self.consumer,
            published=ledger.published,
            in_flight=ledger.in_flight,
            rates=self.rates(),
        )
        self._session_screen.show_status(facts)

    def status_title(self) -> tuple[str, str | None]:
        """What the status line names (and a shorter form for narrow lines): the scenario."""
        return self.engine.scenario.name, None

    def watch_consumer(self) -> None:
        self.refresh_status()

    # -- the lens -----------------------------------------------------------------------------
    @on(RoutingLens.PublishRequested)
    def publish(self, event: RoutingLens.PublishRequested) -> None:
        """Hand the message to the producer thread; a refusal shows under the input."""
        try:
            self.engine.publish(event.exchange, event.routing_key, event.body, event.headers)
        except PublishError as exc:
            event.lens.show_problem(str(exc))
            return
        event.lens.published(event.routing_key)

    @on(RoutingLens.Preview)
    def preview(self, event: RoutingLens.Preview) -> None:
        self._session_screen.canvas.preview_route(event.exchange, event.routing_key, event.headers)

    # -- the canvas ---------------------------------------------------------------------------
    @on(DiagramCanvas.NodeSelected)
    def node_selected(self, event: DiagramCanvas.NodeSelected) -> None:
        if event.kind == "consumer":
            self.consumer = event.name
        self._session_screen.inspect(event.kind, event.name)

    @on(DiagramCanvas.TokenSelected)
    def token_selected(self, event: DiagramCanvas.TokenSelected) -> None:
        self._session_screen.inspect("message", event.msg)

    # -- workers and sessions -----------------------------------------------------------------
    def stop_workers(self) -> None:
        if self.engine_workers is not None:
            self.engine_workers.stop()

    async def restart(self, scenario: Scenario) -> None:
        """Stop the loops, wait for them, then start a fresh engine, model and screen."""
        old = self.engine_workers
        if old is not None:
            old.stop()
            await asyncio.to_thread(old.join, 3.0)
        self.engine.backend.discard_state()
        old_engine = self.engine
        self.engine = old_engine.renewed(scenario)
        self.ledger = Ledger(scenario.topology, broker_url=self.engine.backend.display_url())
        self.consumer = self._first_consumer()
        self._session_screen = SessionScreen(self.engine, self.ledger)
        self._session_screen.show_log(self.show_log)
        self.reset_rate_meters()
        while len(self.screen_stack) > 2:  # close a palette or picker left open above the flow
            await self.pop_screen()
        await self.switch_screen(self._session_screen)
        self._start_workers()
        self.refresh_status()

    async def switch_scenario(self, name: str) -> None:
        """A built-in by name, or a file (TOML or definitions JSON) by path, as --scenario takes it."""
        if self.engine.watch_only("declares nothing") is not None:
            text = "mqscope only watches this broker: a scenario would be declared on it (use --scenario)"
            self.notify(text, severity="error", markup=False)
            return
        try:
            scenario = open_scenario(name)
        except ScenarioError as exc:
            self.notify(visible_lines(str(exc)), severity="error", markup=False)
            return
        await self.restart(scenario)
        if scenario.notice is not None:  # what an import could not use
            self.notify(visible_lines(scenario.notice), severity="warning", timeout=15, markup=False)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from file_commands(self)
        yield from self.control_commands()
        yield from self._session_screen.editor.commands()
        yield from scope_commands(self._session_screen)
        yield from self.producer_commands()

    def panic(self, *renderables: RenderableType) -> None:
        """Textual ends the app this way when its own input thread fails, as it does on bytes from
        the terminal that are not UTF-8 (a paste of `ab\\xff\\xfe`: LinuxDriver.run_input_thread
        decodes stdin with a strict incremental UTF-8 decoder, outside anything mqscope can catch).
        Textual would exit with status 0; mqscope exits 1 (a bug, not mqscope's but real) and says
        what happened above Textual's traceback."""
        self.exit(1, return_code=1, message=Text(panic_reason(renderables), "bold red"))
        super().panic(*renderables)

    async def action_quit(self) -> None:
        self.stop_workers()
        self.exit(0)

    def on_unmount(self) -> None:
        """Stop the broker loops and wait for them (briefly): no thread outlives the app (but a
        --run program's, a daemon: stopping closes its connections, and it ends with the process)."""
        self._waker.stop()
        if self.script is not None:
            self.script.stop()
        if self.engine_workers is not None:
            self.engine_workers.stop()
            self.engine_workers.join(2.0)
        gc.set_threshold(*self._gc_threshold)
        gc.unfreeze()
        sys.setswitchinterval(self._switch_interval)


def panic_reason(renderables: Sequence[RenderableType]) -> str:
    """One line on why Textual stopped the app (the traceback follows it)."""
    for renderable in renderables:
        stacks = renderable.trace.stacks if isinstance(renderable, Traceback) else []
        if stacks and stacks[-1].exc_type == "UnicodeDecodeError":
            return (
                "mqscope stopped: the terminal sent bytes that are not UTF-8 (a paste of binary data?) "
                "and Textual's input thread (LinuxDriver.run_input_thread) cannot decode them: "
                f"UnicodeDecodeError: {stacks[-1].exc_value}"
            )
    return "mqscope stopped: Textual reported an error it cannot recover from"


def _defer_full_collections() -> None:
    """Full (generation 2) collections walk everything a session keeps and stall frames under load
    (benchmarks/NOTES.md); the app runs them itself when the broker goes quiet, and at least every
    FULL_GC_AT_LEAST_EVERY seconds under a steady flow, so reference cycles cannot pile up for ever."""
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000)


def run_app(
    engine: Engine, play_script: bool, theme: str | None = None, script: ScriptRun | None = None
) -> int:
    """Entry point for tui/cli.py: run the app until the user quits."""
    app = MqscopeApp(engine, play_script=play_script, theme=theme, script=script)
    app.run()
    return app.return_code or 0
