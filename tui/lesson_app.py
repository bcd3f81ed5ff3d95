"""The app playing a lesson: the same flow, with a lesson panel above the diagram that asks first.

Each step's topology comes from its scenario (a fresh session) or its changes to the step before,
made through Engine.change_topology so the canvas follows. A predict step hides the routing lens's
verdict while the learner marks queues, then publishes the message and explains the router's answer
queue by queue; a route step checks what the learner typed with the router; a watch step plays its
script, freezing the flow where the text says to look. Wrong answers only cost the step's point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence

from rich.text import Text
from textual import on
from textual.worker import get_current_worker

from core.engine import Engine, PublishError
from core.explain import BindingVerdict, explain_exchange
from core.lesson import Lesson, Step, WatchLine, scenario_at
from core.routing import binding_matches
from core.scenario import Scenario
from core.topology import TopologyError
from tui.app import MqscopeApp
from tui.editing.selection import Selection
from tui.explain import route_text, verdict_lines, why_text
from tui.text import ShownText, visible
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.key_input import KeyInput
from tui.widgets.lesson_panel import LessonPanel, Move, PanelView
from tui.widgets.routing_lens import RoutingLens

POLL_SECONDS = 0.05
"""How often a watch script looks at the ledger while it waits (app state, never a timed guess)."""
PATIENCE_SECONDS = 30.0
"""Flow seconds (the engine's clock: 7.5 real seconds at 4x; frozen time does not count) a watch step
waits for what it waits for before it says so and goes on: a message left in a queue nobody consumes,
without a TTL, never settles, and the lesson must not hang on it."""


class LessonApp(MqscopeApp):
    """mqscope with a lesson: step n of m, score, back, next and restart."""

    def __init__(self, engine: Engine, lesson: Lesson, *, theme: str | None = None) -> None:
        super().__init__(engine, play_script=False, theme=theme)
        self.lesson = lesson
        self.index = 0
        """The step shown (0-based)."""
        self.results: dict[int, bool] = {}
        """Step index -> whether the learner's first answer was right (predict and route steps)."""
        self.panel: LessonPanel | None = None
        self.marked: set[str] = set()
        self.cursor = 0
        self.done = False
        """The step's task is over (revealed, answered right, or the script played out)."""
        self.feedback = Text()
        self.narration: list[Text] = []
        self.waiting: asyncio.Event | None = None
        """Set while a watch script waits for Enter (the flow is frozen meanwhile)."""
        self._live_step: int | None = 0
        """The step whose topology the broker has now (None: unknown, the next step restarts)."""
        self.finished = False
        self.shown: int | None = None
        """The step whose task is on the panel (None while a step is being set up)."""
        self.patience = PATIENCE_SECONDS
        """Flow seconds a watch step waits before it goes on (tests make it short)."""
        self.gave_up = 0
        """How many waits of this step's script ran out of patience (each one said so)."""
        self._shown_frozen = False
        """Whether the panel last showed the flow frozen."""
        self._look_froze = False
        """The current look froze the flow (the learner had not): going on unfreezes it, not otherwise."""

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.index]

    # -- sessions -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        """Textual runs MqscopeApp.on_mount too (after this): the panel goes in once the screen is up."""
        self.call_after_refresh(self._begin)

    async def _begin(self) -> None:
        main = self.session_screen.query("#main")
        if not main or not main.first().is_attached:
            # Not composed yet, or going away (ctrl+q during start-up): try after the next refresh,
            # which never comes once the app has closed.
            self.call_after_refresh(self._begin)
            return
        await self._attach_panel()
        await self.go(0)

    async def _attach_panel(self) -> None:
        """Put a fresh panel above the diagram of the current session screen."""
        screen = self.session_screen
        panel = LessonPanel(id="lesson")
        panel.border_title = f"lesson {self.lesson.name}"
        await screen.query_one("#main").mount(panel, before=screen.canvas)
        self.panel = panel
        panel.focus()

    async def restart(self, scenario: Scenario) -> None:
        """A reset (F-key or palette) replays the current step from its scenario."""
        self._live_step = None
        await self.go(self.index)

    async def switch_scenario(self, name: str) -> None:
        self.notify("a lesson chooses its scenarios: r restarts the lesson", markup=False)

    async def go(self, index: int) -> None:
        """Show step `index`: its topology first (restart or changes), then its task."""
        self.shown = None
        self.workers.cancel_group(self, "watch")
        if self.waiting is not None and self._look_froze:  # the look's freeze, not the learner's (F5)
            self.engine.gate.resume()
            self.refresh_status()
        self.waiting, self._look_froze, self.gave_up = None, False, 0
        index = max(0, min(index, len(self.lesson.steps) - 1))
        step = self.lesson.steps[index]
        if self._live_step is not None and (
            index == self._live_step or (index == self._live_step + 1 and step.scenario is None)
        ):
            changes = step.changes if index != self._live_step else ()
        else:
            base, scenario = scenario_at(self.lesson, index)
            frozen = self.engine.gate.paused  # the learner's freeze (F5) holds in the fresh session
            await MqscopeApp.restart(self, scenario)
            if frozen:
                self.engine.gate.pause()
            await self._attach_panel()
            changes = tuple(c for s in self.lesson.steps[base + 1 : index + 1] for c in s.changes)
        for change in changes:
            try:
                self.engine.change_topology(change, origin="lesson")
            except TopologyError as exc:  # a checked lesson cannot get here unless the flow changed
                self.notify(visible(str(exc)), severity="error", markup=False)
        self._live_step = index
        self.index = index
        self.marked, self.cursor, self.done, self.finished = set(), 0, False, False
        self.feedback, self.narration = Text(), []
        self._lens_hidden(step.task == "predict")
        canvas = self.session_screen.canvas
        canvas.marking = step.task == "predict"
        if step.task == "predict":
            canvas.show_marks(())
            self._select_cursor()
        if step.task == "watch":
            self.run_worker(self._play(step.script), group="watch", exclusive=True)
        self.shown = index
        self.render_panel()

    def _lens_hidden(self, hidden: bool) -> None:
        lens = self.session_screen.lens
        lens.hidden = hidden
        if hidden:
            lens.query_one("#routing-key", KeyInput).value = ""

    # -- the learner's keys -------------------------------------------------------------------
    @on(LessonPanel.Moved)
    async def moved(self, event: LessonPanel.Moved) -> None:
        await self.move(event.move)

    async def move(self, move: Move) -> None:
        step, queues = self.step, self._queues()
        predicting = step.task == "predict" and not self.done
        if move in ("prev", "next") and predicting and queues:
            self.cursor = (self.cursor + (1 if move == "next" else -1)) % len(queues)
            self._select_cursor()
        elif move == "toggle" and predicting and queues:
            self.toggle(queues[self.cursor])
        elif move == "commit":
            if predicting:
                self.commit()
            elif self.waiting is not None:
                self.waiting.set()
            elif self.done or step.task == "route":
                await self.move("forward")
                return
        elif move == "forward":
            if self.index + 1 < len(self.lesson.steps):
                await self.go(self.index + 1)
                return
            self.finished = True
        elif move == "back":
            await self.go(self.index - 1)
            return
        elif move == "restart":
            self.results.clear()
            self._live_step = None
            await self.go(0)
            return
        self.render_panel()

    def toggle(self, queue: str) -> None:
        self.marked.symmetric_difference_update({queue})
        self.session_screen.canvas.show_marks(self.marked)
        self.render_panel()

    @on(DiagramCanvas.NodeSelected)
    def clicked(self, event: DiagramCanvas.NodeSelected) -> None:
        """While predicting, a click on a queue box marks it (instead of opening the inspector)."""
        if self.step.task == "predict" and not self.done and event.kind == "queue":
            event.prevent_default()
            queues = self._queues()
            if event.name in queues:
                self.cursor = queues.index(event.name)
            self.toggle(event.name)

    @on(DiagramCanvas.MarkRequested)
    def canvas_mark(self, event: DiagramCanvas.MarkRequested) -> None:
        """Marking on the diagram (Tab to it): arrows choose a queue box, space marks, Enter commits."""
        if self.step.task != "predict" or self.done:
            return
        if event.action == "toggle" and event.queue is not None:
            self.toggle(event.queue)
        elif event.action == "commit":
            self.commit()
            self.render_panel()

    @on(DiagramCanvas.SelectionChanged)
    def canvas_selected(self, event: DiagramCanvas.SelectionChanged) -> None:
        """One cursor: a queue chosen on the diagram is the panel's cursor too."""
        selection, queues = event.selection, self._queues()
        if self.step.task != "predict" or selection is None or selection.kind != "queue":
            return
        if selection.name in queues and queues.index(selection.name) != self.cursor:
            self.cursor = queues.index(selection.name)
            self.render_panel()

    def _select_cursor(self) -> None:
        """Show the panel's cursor on the diagram: the queue box under it is selected."""
        queues = self._queues()
        if queues:
            self.session_screen.canvas.select(Selection("queue", queues[self.cursor]))

    @on(RoutingLens.PublishRequested)
    def lens_publish(self, event: RoutingLens.PublishRequested) -> None:
        if self.step.task == "predict" and not self.done:
            event.prevent_default()
            event.lens.show_problem("commit your prediction first (the lesson panel: Enter)")

    def _queues(self) -> list[str]:
        return [q.name for q in self.step.topology.queues]

    # -- predict ------------------------------------------------------------------------------
    def commit(self) -> None:
        """Publish the message, reveal the lens and say, queue by queue, right or wrong and why."""
        step = self.step
        right = set(self.marked) == set(step.answer())
        self.results.setdefault(self.index, right)
        self.done = True
        self.session_screen.canvas.marking = False
        self._publish(step.exchange, step.key, step.headers)
        lens = self.session_screen.lens
        lens.hidden = False
        lens.show_message(step.exchange, step.key, step.headers)
        self.feedback = reveal_text(step, self.marked, right)

    def _publish(
        self,
        exchange: str,
        key: str,
        headers: object = None,
        body: object = None,
        *,
        mandatory: bool = False,
        expiration: float | None = None,
    ) -> str | None:
        try:
            return self.engine.publish(
                exchange,
                key,
                body,
                headers if isinstance(headers, dict) else None,
                mandatory=mandatory,
                expiration=expiration,
            )
        except PublishError as exc:
            self.notify(visible(str(exc)), severity="error", markup=False)
            return None

    # -- route --------------------------------------------------------------------------------
    @on(LessonPanel.Answered)
    def answered(self, event: LessonPanel.Answered) -> None:
        self.answer(event.answer)

    def answer(self, typed: str) -> None:
        step = self.step
        if step.task != "route":
            return
        if self.done:
            self.call_later(self.move, "forward")
            return
        right, reached = step.route_verdict(typed, self.engine.topology)
        self.results.setdefault(self.index, right)
        self.done = right
        text = ShownText()
        if step.reach is not None:
            text.append("✓ right: " if right else "✗ not yet: ", "bold green" if right else "bold red")
            text.append(f"{typed!r} reaches {', '.join(reached) or 'no queue'}")
            if not right:
                text.append(f"; wanted exactly {', '.join(step.reach) or 'no queue'}")
            text.append("\n")
            text.append_text(verdict_lines(self.engine.topology.binding_table, step.exchange, typed, None))
            if right:
                self._publish(step.exchange, typed)
        else:
            text.append("✓ right: " if right else "✗ not yet: ", "bold green" if right else "bold red")
            text.append(f"binding key {typed!r}\n")
            kind = step.exchange_type(self.engine.topology)
            for key in step.catch:
                ok = binding_matches(kind, typed, None, key, None)
                text.append(
                    f"  {'✓' if ok else '✗'} catches {key}\n" if ok else f"  ✗ misses {key}\n",
                    "green" if ok else "red",
                )
            for key in step.miss:
                ok = not binding_matches(kind, typed, None, key, None)
                text.append(
                    f"  ✓ leaves {key}\n" if ok else f"  ✗ also catches {key}\n", "green" if ok else "red"
                )
        self.feedback = text
        self.render_panel()

    # -- watch --------------------------------------------------------------------------------
    async def _play(self, script: Sequence[WatchLine]) -> None:
        """Each line: narration, its action, its wait; a `look` line freezes the flow until Enter."""
        worker = get_current_worker()
        sent: list[str] = []
        step = self.step
        # The script starts on its own topology (the step's changes made) and an empty flow (what
        # earlier steps sent settled, queues empty), so what it narrates is what happens.
        await self._until(lambda: self.ledger.topology == step.topology and self.ledger.quiet())
        for line in script:
            if worker.is_cancelled:
                return
            if line.say:
                self.narration.append(ShownText(line.say))
            self._act(line, sent)
            self.render_panel()
            await self._wait(line.wait, sent)
            if line.look:
                # A look freezes the flow unless the learner already has (F5): going on unfreezes
                # only what the look froze, and F5 / F6 / F7 / F8 work meanwhile as anywhere.
                gate = self.engine.gate
                self._look_froze = not gate.paused
                gate.pause()
                self.refresh_status()
                self.waiting = asyncio.Event()
                self.render_panel()
                await self.waiting.wait()
                self.waiting = None
                if self._look_froze:
                    gate.resume()
                self._look_froze = False
                self.refresh_status()
        await self._wait("settled", sent)
        self.done = True
        self.render_panel()

    def _act(self, line: WatchLine, sent: list[str]) -> None:
        if line.action == "publish":
            msg = self._publish(
                line.exchange,
                line.target,
                line.headers or None,
                line.body,
                mandatory=line.mandatory,
                expiration=line.expiration,
            )
            if msg is not None:
                sent.append(msg)
            return
        control = self.engine.controls.get(line.target)
        if control is None:
            return
        if line.action == "crash":
            control.crash()
        elif line.action == "fail_next":
            control.fail_next()
        elif line.action == "pause_consumer":
            control.paused.set()
        elif line.action == "resume_consumer":
            control.paused.clear()

    async def _wait(self, wait: str, sent: Sequence[str]) -> None:
        await self._until(lambda: self.watched(wait, sent))

    async def _until(self, done: Callable[[], bool]) -> None:
        """Poll `done` until it holds, or until `patience` flow seconds passed while the flow ran:
        then the narration says the step stopped waiting, and the script goes on."""
        waited = 0.0
        while not done():
            if waited >= self.patience:
                self.gave_up += 1
                self.narration.append(
                    ShownText(
                        f"… still waiting after {self.patience:g} s of flow: some message never "
                        "settles (left in a queue nobody consumes?). The script goes on.",
                        "yellow",
                    )
                )
                self.render_panel()
                return
            await asyncio.sleep(POLL_SECONDS)
            if not self.engine.gate.paused:  # frozen time is the learner's, not the script's
                waited += POLL_SECONDS * self.engine.clock.speed

    def watched(self, wait: str, sent: Sequence[str]) -> bool:
        """Whether what a watch line waits for has happened, read from the ledger."""
        records = [self.ledger.records.get(m) for m in sent]
        if wait == "settled":
            idle = not any(c.in_hand for c in self.ledger.consumers.values())
            return all(r is not None and r.settled for r in records) and idle
        if wait == "routed":
            return all(r is not None and r.queues is not None for r in records)
        if wait == "delivered":
            return any(c.in_hand for c in self.ledger.consumers.values())
        return True

    # -- showing ------------------------------------------------------------------------------
    def refresh_status(self) -> None:
        """The status line, and the panel when the learner froze or unfroze the flow (F5, F6)."""
        super().refresh_status()
        if self.engine.gate.paused != self._shown_frozen:
            self.render_panel()

    def status_title(self) -> tuple[str, str | None]:
        """The lesson's title, not its step's scenario (the panel shows step n of m); its name when
        the line is narrow."""
        return self.lesson.title, self.lesson.name

    def score(self) -> tuple[int, int]:
        return sum(self.results.values()), len(self.results)

    def render_panel(self) -> None:
        if self.panel is None or not self.panel.is_attached:
            return
        self.panel.show(self.view())

    def view(self) -> PanelView:
        step, total = self.step, len(self.lesson.steps)
        right, answered = self.score()
        head = ShownText(
            f"{self.lesson.title}  ·  step {self.index + 1} of {total}  ·  score {right}/{answered}"
        )
        task = ShownText()
        hint = "n next  b back  r restart"
        if step.task == "predict":
            task.append(
                f"Which queues will {step.key!r}" if step.key else "Which queues will this message", "bold"
            )
            if step.headers is not None:
                task.append(f" with headers {step.headers}", "bold")
            task.append(f" reach from exchange {step.exchange}?\n", "bold")
            if not self.done:
                for i, queue in enumerate(self._queues()):
                    task.append("▸ " if i == self.cursor else "  ", "bold")
                    task.append("[x] " if queue in self.marked else "[ ] ")
                    task.append(f"{queue}\n", "bold" if queue in self.marked else "")
                hint = (
                    "↑/↓ choose a queue  space marks it (or click it; or Tab to the diagram: arrows, "
                    "space)  Enter commits  " + hint
                )
            else:
                task.append_text(self.feedback)
                hint = "Enter: next step  " + hint
        elif step.task == "route":
            if step.reach is not None:
                task.append(f"Type a key that reaches exactly: {', '.join(step.reach) or 'no queue'}", "bold")
                task.append(f" (exchange {step.exchange})\n", "bold")
            else:
                task.append("Type a binding key that catches ", "bold")
                task.append(", ".join(step.catch), "green")
                task.append(" and not ", "bold")
                task.append(", ".join(step.miss) or "-", "red")
                task.append("\n")
            task.append_text(self.feedback)
            hint = ("Enter: next step  " if self.done else "Enter checks  ") + "PgDn next  PgUp back"
        else:
            for line in self.narration:
                task.append_text(line)
                task.append("\n")
            if self.waiting is not None:
                task.append("▸ look: the flow is frozen. Enter goes on", "bold yellow")
                hint = "Enter goes on  " + hint
            elif self.done:
                task.append("✓ watched", "bold green")
                hint = "Enter: next step  " + hint
        frozen = self.engine.gate.paused
        self._shown_frozen = frozen
        if frozen and self.waiting is None:
            task.append("\n❄ frozen: F6 lets one broker action through, F5 goes on", "bold cyan")
        if self.finished:
            task.append(f"\nLesson finished: {right} of {answered} right. r restarts it.", "bold")
        return PanelView(
            head,
            ShownText(step.text),
            task,
            ShownText(hint),
            answer_field=step.task == "route" and not self.done,
            placeholder="a routing key" if step.reach is not None else "a binding key, e.g. *.error",
        )


def reveal_text(step: Step, marked: Iterable[str], right: bool) -> Text:
    """Right or wrong, then each queue: whether it gets a copy, what the learner said, and why (the
    bindings of the exchange, word by word, as the lens explains them)."""
    marked = set(marked)
    table = step.topology.binding_table
    explained = explain_exchange(table, step.exchange, step.key, step.headers)
    reached = set(explained.route.queues)
    by_queue: dict[str, list[BindingVerdict]] = {}
    for verdict in explained.verdicts:
        by_queue.setdefault(verdict.binding.destination, []).append(verdict)
    text = ShownText()
    text.append("✓ Right!\n" if right else "✗ Not quite.\n", "bold green" if right else "bold red")
    for queue in (q.name for q in step.topology.queues):
        got, said = queue in reached, queue in marked
        text.append("✓ " if got == said else "✗ ", "bold green" if got == said else "bold red")
        text.append(queue, "bold")
        text.append(" gets a copy" if got else " gets nothing")
        text.append(f" (you {'marked' if said else 'did not mark'} it)\n", "dim")
        verdicts = by_queue.get(queue, [])
        for verdict in verdicts:
            text.append(f"    {verdict.binding.routing_key or '(no key)'}: ", "cyan")
            text.append_text(why_text(verdict))
            text.append("\n")
        if not verdicts:
            via = explained.route.via_alternate if got else None
            text.append(
                f"    via alternate exchange {via}\n" if via else f"    not bound to {step.exchange}\n", "dim"
            )
    text.append_text(route_text(explained.route))
    return text


def run_lesson(engine: Engine, lesson: Lesson, theme: str | None = None) -> int:
    """Entry point for tui/cli.py --lesson."""
    app = LessonApp(engine, lesson, theme=theme)
    app.run()
    return app.return_code or 0
