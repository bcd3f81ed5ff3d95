"""Lessons: TOML files of steps that ask before they show. Read, check and fold, without a UI.

A lesson is checked whole before anyone plays it: every problem is collected (file, step and field,
one line each), not just the first, so a teacher fixes a file in one pass. Each step's topology is
folded from the lesson's scenario and changes exactly as the engine will fold them, so the answers a
lesson expects are computed here by the one router (core.routing), never written down and trusted.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from core.errors import InputError
from core.publishing import field_table_problem
from core.routing import Binding, binding_key_problem, binding_matches, routing_key_problem
from core.scenario import Scenario, ScenarioError, builtin_names, load_scenario, scenario_from_data
from core.text import short
from core.topology import Topology, TopologyError
from core.topology_changes import (
    TopologyChange,
    apply_change,
    change_problem,
    declare,
    delete,
    queue_binding,
)

TaskKind = Literal["predict", "route", "watch"]
TASKS: tuple[TaskKind, ...] = ("predict", "route", "watch")
WAITS = ("settled", "routed", "delivered", "none")
"""What a watch line waits for after its action: every message settled, every message routed (in its
queues), a consumer holding one, or nothing."""
ACTIONS = ("publish", "crash", "fail_next", "pause_consumer", "resume_consumer")

_LESSON_FIELDS = {"name", "title"}
_STEP_FIELDS = {
    "text",
    "scenario",
    "changes",
    "task",
    "exchange",
    "key",
    "headers",
    "reach",
    "catch",
    "miss",
    "example",
    "script",
}
_CHANGE_FIELDS = {
    "bindings",
    "op",
    "kind",
    "name",
    "type",
    "alternate_exchange",
    "exchange",
    "queue",
    "routing_key",
    "arguments",
    "dead_letter_exchange",
    "dead_letter_routing_key",
    "message_ttl",
    "max_length",
    "queues",
    "prefetch",
    "work_seconds",
    "on_failure",
}
_LINE_FIELDS = {"say", *ACTIONS, "exchange", "body", "headers", "expiration", "mandatory", "wait", "look"}


class LessonError(InputError):
    """A lesson that cannot be played; str() is one line per problem, `file: step N: field: problem`."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class WatchLine:
    """One line of a watch step's script: narration, then at most one action, then a wait."""

    say: str
    action: str | None = None
    """One of ACTIONS, or None (narration only)."""
    target: str = ""
    """The routing key to publish, or the consumer acted on."""
    exchange: str = ""
    body: Any = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    expiration: float | None = None
    mandatory: bool = False
    wait: str = "settled"
    look: bool = False
    """Freeze the flow after the wait, until the learner goes on (Enter)."""


@dataclass(frozen=True)
class Step:
    """One step: text to read, the topology it runs on, and its task."""

    number: int
    text: str
    task: TaskKind
    topology: Topology
    """The topology once this step's scenario or changes are in place (folded at load time)."""
    scenario: Scenario | None = None
    """Set when the step starts a fresh scenario; else `changes` apply to the previous step's."""
    changes: tuple[TopologyChange, ...] = ()
    exchange: str = ""
    key: str = ""
    headers: Mapping[str, Any] | None = None
    reach: tuple[str, ...] | None = None
    """route: type a key that reaches exactly these queues."""
    catch: tuple[str, ...] = ()
    miss: tuple[str, ...] = ()
    """route (pattern form): a binding key that matches every `catch` key and no `miss` key."""
    example: str = ""
    """route: one right answer, checked by the router when the lesson loads (so the task can be done)."""
    script: tuple[WatchLine, ...] = ()

    @property
    def pattern_task(self) -> bool:
        return self.task == "route" and self.reach is None

    def answer(self) -> tuple[str, ...]:
        """predict: the queues the router sends `key` to on this step's topology, sorted."""
        return self.topology.binding_table.route(self.exchange, self.key, self.headers).queues

    def route_verdict(self, typed: str, topology: Topology | None = None) -> tuple[bool, tuple[str, ...]]:
        """route: whether `typed` is right, and (key form) the queues it reaches on `topology`."""
        topology = topology or self.topology
        if self.reach is not None:
            reached = topology.binding_table.route(self.exchange, typed, None).queues
            return set(reached) == set(self.reach), reached
        return pattern_right(self.exchange_type(topology), typed, self.catch, self.miss), ()

    def exchange_type(self, topology: Topology | None = None) -> str:
        spec = (topology or self.topology).exchange(self.exchange)
        return spec.type if spec is not None else "topic"


def pattern_right(exchange_type: str, pattern: str, catch: Sequence[str], miss: Sequence[str]) -> bool:
    """A binding key is right when the router's own matcher takes every `catch` key and no `miss` key."""
    if binding_key_problem(pattern) is not None:
        return False
    return all(binding_matches(exchange_type, pattern, None, k, None) for k in catch) and not any(
        binding_matches(exchange_type, pattern, None, k, None) for k in miss
    )


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    steps: tuple[Step, ...]
    source: str = "<memory>"


# -- reading ----------------------------------------------------------------------------------------
class _Problems:
    """Collects one-line problems for one file; `where` names the step and field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, where: str, problem: str) -> None:
        self.lines.append(f"{self.source}: {where}: {problem}")


def _type_name(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


_TOML_AT = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def toml_problem(source: str, exc: tomllib.TOMLDecodeError) -> str:
    """Bad TOML in one line: the file, line and column, then what tomllib says."""
    text = str(exc).splitlines()[0] if str(exc) else "not valid TOML"
    m = _TOML_AT.match(text)
    if m is not None:
        return f"{source}: line {m['line']}, column {m['col']}: not valid TOML: {m['msg']}"
    return f"{source}: not valid TOML: {text}"


def parse_lesson(text: str, source: str = "<string>", *, folder: Path | None = None) -> Lesson:
    """Read and check lesson TOML; raise LessonError listing every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LessonError([toml_problem(source, exc)]) from None
    except RecursionError:
        raise LessonError([f"{source}: not usable TOML: nested too deep"]) from None
    return lesson_from_data(data, source, folder=folder)


def lesson_from_data(data: Mapping[str, Any], source: str, *, folder: Path | None = None) -> Lesson:
    problems = _Problems(source)
    for unknown in sorted(set(data) - {"lesson", "steps"}):
        problems.add(unknown, "unknown section (allowed: lesson, steps)")
    head = data.get("lesson", {})
    name, title = Path(source).stem, ""
    if not isinstance(head, dict):
        problems.add("[lesson]", f"must be a table, not {_type_name(head)}")
        head = {}
    for unknown in sorted(set(head) - _LESSON_FIELDS):
        problems.add(f"[lesson] {unknown}", "unknown field (allowed: name, title)")
    for key in ("name", "title"):
        value = head.get(key)
        if value is None and key == "title":
            problems.add("[lesson] title", "missing")
        elif value is not None and not isinstance(value, str):
            problems.add(f"[lesson] {key}", f"must be a string, not {_type_name(value)}")
        elif key == "name" and value is not None:
            name = value
        elif value is not None:
            title = value
    raw_steps = data.get("steps")
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.add("steps", "a lesson needs at least one [[steps]] table")
        raw_steps = []
    topology: Topology | None = None
    for number, raw in enumerate(raw_steps, start=1):
        reader = _StepReader(problems, number, raw, topology, folder)
        step = reader.read()
        if step is not None:
            steps.append(step)
        topology = reader.after  # a broken task still leaves the topology for the next steps
    if problems.lines:
        raise LessonError(problems.lines)
    return Lesson(name=name, title=title, steps=tuple(steps), source=source)


class _StepReader:
    """Reads one [[steps]] table, adding each problem to `problems` and reading on where it can."""

    def __init__(
        self,
        problems: _Problems,
        number: int,
        raw: Any,
        previous: Topology | None,
        folder: Path | None,
    ) -> None:
        self.problems, self.number, self.previous, self.folder = problems, number, previous, folder
        self.after = previous
        """The topology once this step's scenario and changes are in (even when its task is broken)."""
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.ok = isinstance(raw, dict)
        if not self.ok:
            self.fail("", f"must be a table, not {_type_name(raw)}")

    def fail(self, fieldname: str, problem: str) -> None:
        self.ok = False
        where = f"step {self.number}" + (f": {fieldname}" if fieldname else "")
        self.problems.add(where, problem)

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.raw.get(name)
        if value is None:
            if required:
                self.fail(name, "missing")
            return default
        if not isinstance(value, str):
            self.fail(name, f"must be a string, not {_type_name(value)}")
            return default
        return value

    def strings(self, name: str) -> tuple[str, ...] | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, "must be an array of strings")
            return None
        return tuple(value)

    def read(self) -> Step | None:
        if not isinstance(self.raw, dict) or not self.ok:
            return None
        for unknown in sorted(set(self.raw) - _STEP_FIELDS):
            self.fail(unknown, f"unknown field (allowed: {', '.join(sorted(_STEP_FIELDS))})")
        text = self.text("text", required=True)
        scenario, topology = self._topology()
        changes = self._changes(topology) if "changes" in self.raw else ()
        for change in changes:
            if topology is not None:
                topology = apply_change(topology, change)
        self.after = topology
        task_name = self.text("task", required=True)
        if task_name and task_name not in TASKS:
            self.fail("task", f"unknown task {short(task_name)} (allowed: {', '.join(TASKS)})")
        if topology is None:
            return None
        exchange = self._exchange(topology)
        step = Step(
            number=self.number,
            text=text,
            task="predict",
            topology=topology,
            scenario=scenario,
            changes=changes,
            exchange=exchange,
        )
        if task_name == "predict":
            step = self._predict(step)
        elif task_name == "route":
            step = self._route(step)
        elif task_name == "watch":
            step = self._watch(step)
        self._unused(task_name)
        return step if self.ok else None

    def _unused(self, task: str) -> None:
        used = {
            "predict": {"key", "headers"},
            "route": {"reach", "catch", "miss", "example"},
            "watch": {"script"},
        }.get(task, set())
        every = {"key", "headers", "reach", "catch", "miss", "example", "script"}
        for name in sorted((every - used) & set(self.raw)):
            if task in TASKS:
                self.fail(name, f"not used by a {task} step")

    # -- topology ---------------------------------------------------------------------------------
    def _topology(self) -> tuple[Scenario | None, Topology | None]:
        raw = self.raw.get("scenario")
        if raw is not None and "changes" in self.raw:
            self.fail("changes", "a step has a scenario or changes to the current one, not both")
        if raw is None:
            if self.number == 1:
                self.fail("scenario", "the first step needs a scenario (a built-in name or a table)")
            return None, self.previous
        scenario: Scenario | None = None
        try:
            if isinstance(raw, str):
                scenario = self._named(raw)
            elif isinstance(raw, dict):
                data = dict(raw)
                data.setdefault("scenario", {"name": f"step{self.number}"})
                scenario = scenario_from_data(data, f"step {self.number} scenario")
            else:
                self.fail("scenario", f"must be a scenario name or table, not {_type_name(raw)}")
        except ScenarioError as exc:
            self.fail("scenario", str(exc))
        if scenario is not None:
            scenario = replace(scenario, publishes=())  # a lesson publishes only what its steps say
        return scenario, scenario.topology if scenario is not None else None

    def _named(self, name: str) -> Scenario:
        if name in builtin_names() or self.folder is None:
            return load_scenario(name)
        path = self.folder / name
        return load_scenario(str(path) if path.exists() else name)

    def _changes(self, topology: Topology | None) -> tuple[TopologyChange, ...]:
        raw = self.raw.get("changes")
        if not isinstance(raw, list):
            self.fail("changes", "must be an array of tables")
            return ()
        out: list[TopologyChange] = []
        for index, entry in enumerate(raw, start=1):
            label = f"changes[{index}]"
            try:
                made = change_from_table(entry, topology)
            except TopologyError as exc:
                self.fail(label, str(exc))
                continue
            for change in made:
                if topology is not None:
                    if (problem := change_problem(topology, change)) is not None:
                        self.fail(label, problem)
                        break
                    topology = apply_change(topology, change)
                out.append(change)
        return tuple(out)

    def _exchange(self, topology: Topology) -> str:
        default = topology.exchanges[0].name if topology.exchanges else ""
        name = self.text("exchange", default=default)
        if topology.exchange(name) is None and name != "":
            self.fail("exchange", f"unknown exchange {short(name)}")
        return name

    # -- tasks ------------------------------------------------------------------------------------
    def _headers(self, raw: Any, name: str) -> dict[str, Any] | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.fail(name, f"must be a table, not {_type_name(raw)}")
            return None
        if (problem := field_table_problem(raw, name)) is not None:
            self.fail(name, problem)
            return None
        return dict(raw)

    def _predict(self, step: Step) -> Step:
        key = self.text("key", default="")
        headers = self._headers(self.raw.get("headers"), "headers")
        if "key" not in self.raw and step.exchange_type() not in ("fanout", "headers"):
            self.fail("key", "missing (the routing key the learner predicts for)")
        elif (problem := routing_key_problem(key)) is not None:
            self.fail("key", problem)
        return replace(step, task="predict", key=key, headers=headers)

    def _route(self, step: Step) -> Step:
        reach, catch, miss = self.strings("reach"), self.strings("catch"), self.strings("miss")
        example = self.text("example", required=True)
        if reach is None and catch is None:
            self.fail("reach", "a route step needs reach (queues a key must reach) or catch and miss (keys)")
            return step
        if reach is not None and (catch is not None or miss is not None):
            self.fail("catch", "a route step has reach, or catch and miss, not both")
            return step
        if reach is not None:
            for queue in reach:
                if step.topology.queue(queue) is None:
                    self.fail("reach", f"unknown queue {short(queue)}")
            step = replace(step, task="route", reach=reach, example=example)
            if self.ok and not step.route_verdict(example)[0]:
                got = ", ".join(step.route_verdict(example)[1]) or "no queue"
                self.fail("example", f"{short(example)} reaches {got}, not exactly {', '.join(reach)}")
            return step
        step = replace(step, task="route", catch=catch or (), miss=miss or (), example=example)
        if not step.catch:
            self.fail("catch", "needs at least one key the pattern must catch")
        if self.ok and not step.route_verdict(example)[0]:
            self.fail("example", f"pattern {short(example)} does not catch every catch key and no miss key")
        return step

    def _watch(self, step: Step) -> Step:
        raw = self.raw.get("script")
        if not isinstance(raw, list) or not raw:
            self.fail("script", "a watch step needs a script: an array of tables with `say`")
            return step
        lines = []
        for index, entry in enumerate(raw, start=1):
            line = self._line(step, f"script[{index}]", entry)
            if line is not None:
                lines.append(line)
        return replace(step, task="watch", script=tuple(lines))

    def _line(self, step: Step, label: str, entry: Any) -> WatchLine | None:
        if not isinstance(entry, dict):
            self.fail(label, f"must be a table, not {_type_name(entry)}")
            return None
        for unknown in sorted(set(entry) - _LINE_FIELDS):
            self.fail(f"{label} {unknown}", "unknown field")
        say = entry.get("say")
        if not isinstance(say, str):
            self.fail(f"{label} say", "missing (the narration line)" if say is None else "must be a string")
            return None
        actions = [a for a in ACTIONS if a in entry]
        if len(actions) > 1:
            self.fail(label, f"one action per line, not {' and '.join(actions)}")
            return None
        action = actions[0] if actions else None
        target = entry.get(action, "") if action else ""
        if not isinstance(target, str):
            self.fail(f"{label} {action}", "must be a string")
            return None
        exchange = entry.get("exchange", step.exchange)
        if action == "publish":
            if not isinstance(exchange, str) or step.topology.exchange(exchange) is None:
                self.fail(f"{label} exchange", f"unknown exchange {short(str(exchange))}")
            if (problem := routing_key_problem(target)) is not None:
                self.fail(f"{label} publish", problem)
        elif action is not None and step.topology.consumer(target) is None:
            self.fail(f"{label} {action}", f"unknown consumer {short(target)}")
        wait = entry.get("wait", "settled" if action == "publish" else "none")
        if wait not in WAITS:
            self.fail(f"{label} wait", f"must be one of {', '.join(WAITS)}")
        look = entry.get("look", False)
        if not isinstance(look, bool):
            self.fail(f"{label} look", "must be true or false")
        expiration = entry.get("expiration")
        if isinstance(expiration, bool) or not isinstance(expiration, int | float | None):
            self.fail(f"{label} expiration", "must be a number of seconds")
            expiration = None
        mandatory = entry.get("mandatory", False)
        if not isinstance(mandatory, bool):
            self.fail(f"{label} mandatory", "must be true or false")
        headers = self._headers(entry.get("headers"), f"{label} headers") or {}
        return WatchLine(
            say=say,
            action=action,
            target=target,
            exchange=str(exchange),
            body=entry.get("body"),
            headers=headers,
            expiration=None if expiration is None else float(expiration),
            mandatory=bool(mandatory),
            wait=str(wait),
            look=bool(look),
        )


def change_from_table(entry: Any, topology: Topology | None) -> list[TopologyChange]:
    """One `changes` entry as topology changes (a queue with bindings is the queue, then each binding)."""
    if not isinstance(entry, dict):
        raise TopologyError(f"must be a table, not {_type_name(entry)}")
    unknown = sorted(set(entry) - _CHANGE_FIELDS)
    if unknown:
        raise TopologyError(f"unknown field {unknown[0]!r}")
    op, kind = entry.get("op", "declare"), entry.get("kind")
    if op not in ("declare", "delete"):
        raise TopologyError("op must be declare or delete")
    name = entry.get("name", "")
    if kind == "binding":
        binding = queue_binding(
            str(entry.get("exchange", "")),
            str(entry.get("queue", "")),
            str(entry.get("routing_key", "")),
            entry.get("arguments") or {},
        )
        return [declare(binding) if op == "declare" else delete(binding)]
    if kind not in ("exchange", "queue", "consumer"):
        raise TopologyError("kind must be exchange, queue, binding or consumer")
    if not isinstance(name, str) or not name:
        raise TopologyError("name: missing")
    if op == "delete":
        existing = None
        if topology is not None:
            finders = {"exchange": topology.exchange, "queue": topology.queue, "consumer": topology.consumer}
            existing = finders[kind](name)
        if existing is None:
            raise TopologyError(f"{kind} {short(name)}: does not exist")
        return [delete(existing)]
    data: dict[str, Any] = {k: v for k, v in entry.items() if k not in ("op", "kind", "bindings")}
    bindings = _bindings(name, entry.get("bindings", []) if kind == "queue" else [])
    section = {"exchange": "exchanges", "queue": "queues", "consumer": "consumers"}[kind]
    scenario: dict[str, Any] = {section: [data]}
    if kind == "consumer" and isinstance(data.get("queues"), list):  # checked against the topology later
        scenario["queues"] = [{"name": q} for q in data["queues"] if isinstance(q, str)]
    try:
        made = scenario_from_data(scenario, "change").topology
    except ScenarioError as exc:
        raise TopologyError(str(exc).split(": ", 2)[-1]) from None
    if kind == "exchange":
        return [declare(made.exchanges[0])]
    if kind == "consumer":
        return [declare(made.consumers[0])]
    return [declare(replace(made.queues[0], bindings=())), *(declare(b) for b in bindings)]


def _bindings(queue: str, raw: Any) -> list[Binding]:
    """A queue change's `bindings`, as a scenario writes them (checked against the topology later)."""
    if not isinstance(raw, list):
        raise TopologyError("bindings must be an array of tables")
    out = []
    for index, b in enumerate(raw, start=1):
        if not isinstance(b, dict) or not isinstance(b.get("exchange"), str):
            raise TopologyError(f"bindings[{index}] needs exchange (a name)")
        key, arguments = b.get("routing_key", ""), b.get("arguments", {})
        if not isinstance(key, str) or not isinstance(arguments, dict):
            raise TopologyError(f"bindings[{index}]: routing_key is a string, arguments a table")
        if (problem := field_table_problem(arguments, "arguments")) is not None:
            raise TopologyError(f"bindings[{index}]: {problem}")
        out.append(queue_binding(b["exchange"], queue, key, arguments))
    return out


# -- built-ins ----------------------------------------------------------------------------------------
def builtin_lesson_names() -> list[str]:
    """The built-in course, in order (file names start with their place: 01_direct.toml)."""
    folder = resources.files("core").joinpath("lessons")
    return [p.name[3:-5] for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.name.endswith(".toml")]


def _builtin_file(name: str) -> str | None:
    folder = resources.files("core").joinpath("lessons")
    for p in folder.iterdir():
        if p.name.endswith(".toml") and p.name[3:-5] == name:
            return p.name
    return None


def load_lesson(name_or_path: str) -> Lesson:
    """A built-in lesson by name, or a lesson file by path; LessonError lists every problem."""
    builtin = _builtin_file(name_or_path)
    if builtin is not None:
        text = resources.files("core").joinpath("lessons", builtin).read_text(encoding="utf-8")
        return parse_lesson(text, builtin)
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(builtin_lesson_names())
        raise LessonError([f"{name_or_path}: no such lesson file or built-in lesson (built-in: {known})"])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LessonError([f"{name_or_path}: cannot read: {exc}"]) from None
    return parse_lesson(text, str(path), folder=path.parent)


def scenario_at(lesson: Lesson, index: int) -> tuple[int, Scenario]:
    """The step (index) whose scenario step `index` builds on, and that scenario."""
    for back in range(index, -1, -1):
        scenario = lesson.steps[back].scenario
        if scenario is not None:
            return back, scenario
    raise ValueError("a checked lesson's first step has a scenario")
