"""Command line: the TUI by default, or the headless runner with --headless (which never loads Textual)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.backends import DEFAULT_BROKER_URL, backend_for
from core.closed_output import OutputClosed, quiet_exit, write
from core.controls import MAX_SPEED, MIN_SPEED
from core.discovery import DEFAULT_REFRESH_SECONDS, DiscoverySource, discovery_source, url_vhost
from core.engine import Engine
from core.errors import InputError
from core.exporters import EXPORT_FORMATS, export
from core.headless import (
    EXIT_BAD_INPUT,
    HeadlessOptions,
    run_headless,
    run_script_headless,
    run_tap_headless,
    stderr_line,
)
from core.lesson import LessonError, builtin_lesson_names, load_lesson, scenario_at
from core.management import ManagementClient
from core.observe.loop import ObserveError, ObserveSpec, observe_scenario
from core.publishing import body_problem
from core.recording import Recorder, Recording, header
from core.replay import ReplayEngine, run_replay_headless
from core.scenario import DEFAULT_SCENARIO, Scenario
from core.scenario_files import open_scenario
from core.script_run import ScriptRun
from core.tap import TapError, TapSpec, tap_scenario
from core.text import short, visible
from core.topology import Topology


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and exit 2 (the contract), without the usage dump."""

    def error(self, message: str) -> Any:
        stderr_line(f"error: {message} (see --help)")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mqscope",
        description="Watch messages flow: producer -> exchange -> bindings -> queues -> consumers.",
    )
    parser.add_argument(
        "--scenario",
        default=None,
        help="built-in name, TOML path, or RabbitMQ definitions .json (default seed)",
    )
    parser.add_argument(
        "--vhost",
        default=None,
        help="the vhost to read from definitions JSON, to discover, or to export to "
        "(default /; discovery: the broker URL's)",
    )
    parser.add_argument(
        "--management",
        default=None,
        metavar="URL",
        help="discovery and --observe: the management HTTP API "
        "(default http://BROKER-HOST:15672, with the broker URL's user and password)",
    )
    parser.add_argument(
        "--definitions",
        default=None,
        metavar="FILE",
        help="discovery without the management plugin: rabbitmqctl export_definitions output",
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=DEFAULT_REFRESH_SECONDS,
        metavar="S",
        help="discovery: read the broker's topology again every S seconds "
        f"(default {DEFAULT_REFRESH_SECONDS:g})",
    )
    parser.add_argument(
        "--exchange",
        default=None,
        metavar="NAME",
        help="headless: the exchange --publish goes to (default: the scenario's first)",
    )
    parser.add_argument(
        "--export",
        default=None,
        choices=EXPORT_FORMATS,
        help="write the scenario to stdout (toml, RabbitMQ definitions JSON, or a kombu program) and exit",
    )
    parser.add_argument(
        "--broker",
        default=None,
        help=f"broker URL (default {DEFAULT_BROKER_URL}; amqp://... for RabbitMQ)",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="simulation speed, 0.25 to 4")
    parser.add_argument("--headless", action="store_true", help="no UI: print events and exit")
    parser.add_argument("--json", action="store_true", help="headless: one JSON object per event")
    parser.add_argument(
        "--publish",
        action="append",
        default=[],
        metavar="KEY",
        help="headless: publish KEY to the scenario's first exchange (repeatable)",
    )
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="publish each KEY N times")
    parser.add_argument("--body", default=None, metavar="JSON", help="headless: body for --publish")
    parser.add_argument("--no-script", action="store_true", help="do not play the scenario's publish script")
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="headless: give up after S seconds"
    )
    parser.add_argument(
        "--tap",
        default=None,
        metavar="EXCHANGE[:TYPE]",
        help="RabbitMQ: watch an existing exchange through a queue of mqscope's own "
        "(headless: prints until --timeout, then exits 0)",
    )
    parser.add_argument(
        "--observe",
        action="store_true",
        help="RabbitMQ: show every message on the vhost along the path RabbitMQ reports (its firehose); "
        "consumes nobody's messages (headless: prints until --timeout, then exits 0)",
    )
    parser.add_argument(
        "--trace-on",
        action="store_true",
        help="--observe: turn the vhost's tracing on through the management API, and off again at exit",
    )
    parser.add_argument(
        "--record",
        default=None,
        metavar="FILE.jsonl",
        help="write the session's events to FILE, one JSON object a line, to --replay later",
    )
    parser.add_argument(
        "--replay",
        default=None,
        metavar="FILE.jsonl",
        help="play a --record file again, in the app or --headless, with no broker",
    )
    parser.add_argument("--lessons", action="store_true", help="list the built-in lessons and exit")
    parser.add_argument("--lesson", default=None, metavar="NAME|PATH", help="start the app on a lesson")
    parser.add_argument(
        "--check-lesson",
        default=None,
        metavar="PATH",
        help="check a lesson file: exit 0, or one line per problem and exit 2",
    )
    parser.add_argument(
        "--theme", default=None, metavar="NAME", help="TUI theme: presenter (high contrast) or Textual's"
    )
    parser.add_argument(
        "--serve", action="store_true", help="serve the app to web browsers (textual-serve): a tab each"
    )
    parser.add_argument("--host", default="127.0.0.1", help="--serve: address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=8000, help="--serve: port to listen on")
    parser.add_argument(
        "--public",
        action="store_true",
        help="--serve: allow a --host that is not loopback (anyone who reaches it gets an app)",
    )
    parser.add_argument(
        "--run",
        nargs=argparse.REMAINDER,
        default=None,
        metavar="SCRIPT.py [ARGS]",
        help="run your kombu program (unchanged) inside mqscope and watch what it does on mqscope:// "
        "or memory:// (last option: everything after it is the program's)",
    )
    return parser


def run_scenario(name: str | None, script: str, vhost: str = "/") -> Scenario:
    """--run's scenario: the one given, else an empty one named after the program (which declares
    its own topology)."""
    if name is not None:
        return open_scenario(name, vhost=vhost)
    return Scenario(Path(script).name, f"your kombu program {script}", Topology((), ()), ())


def _check_theme(name: str | None) -> None:
    if name is None:
        return
    from tui.presenter import theme_names  # Textual's theme list: only the TUI needs it

    names = theme_names()
    if name not in names:
        raise InputError(f"--theme: unknown theme {name!r} (known: {', '.join(names)})")


def _not_json_constant(name: str) -> Any:
    raise InputError(f"--body is not valid JSON: {name} is not a JSON number")


def _parse_body(text: str | None) -> Any:
    if text is None:
        return None
    try:
        body = json.loads(text, parse_constant=_not_json_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"--body is not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise InputError("--body is nested too deep") from None
    if (problem := body_problem(body, "--body")) is not None:
        raise InputError(problem)
    return body


def _check_numbers(speed: float, repeat: int, timeout: float) -> None:
    """Numbers argparse accepted that mean nothing here (nan, inf, negative). A huge --repeat is
    fine: headless makes the requests as its window opens (core.headless.WINDOW), not up front."""
    if not MIN_SPEED <= speed <= MAX_SPEED:  # also false for nan
        raise InputError(f"--speed must be between {MIN_SPEED:g} and {MAX_SPEED:g}")
    if repeat < 1:
        raise InputError("--repeat must be at least 1")
    if not (math.isfinite(timeout) and timeout > 0):
        raise InputError("--timeout must be a positive number of seconds")


def _check_exchange(scenario: Scenario, name: str | None) -> None:
    """--exchange must name one of the scenario's exchanges ('' is the default exchange)."""
    if name is not None and name != "" and scenario.topology.exchange(name) is None:
        known = ", ".join(repr(e.name) for e in scenario.topology.exchanges) or "none"
        raise InputError(f"--exchange {short(name)}: no such exchange in the scenario (it has {known})")


def _discovers(args: argparse.Namespace, broker: str) -> bool:
    """Discovery mode: a RabbitMQ broker and no scenario, lesson, program or export (or --management /
    --definitions given, which only discovery reads). --observe with a scenario reads --management
    itself (queue depths, tracing), and discovers nothing."""
    if args.observe and args.scenario is not None:
        if args.definitions is not None:
            raise InputError("--definitions is for discovery: leave out --scenario")
        return False
    if args.management is not None or args.definitions is not None:
        if args.scenario is not None or args.run is not None or args.lesson is not None:
            raise InputError("--management and --definitions are for discovery: leave out --scenario")
        return True
    if args.scenario is not None or args.run is not None or args.lesson is not None or args.export:
        return False
    return args.broker is not None and backend_for(broker).detects_returns


def _discover(args: argparse.Namespace, broker: str) -> DiscoverySource:
    """The broker's topology, read now (a wrong URL or no management API: one line, exit 2)."""
    if not (math.isfinite(args.refresh) and args.refresh > 0):
        raise InputError("--refresh must be a positive number of seconds")
    backend = backend_for(broker)
    if not backend.detects_returns:
        raise InputError("discovery needs a RabbitMQ broker: --broker amqp://user:pass@host:port/vhost")
    vhost = url_vhost(broker)
    if args.vhost is not None and args.vhost != vhost:
        if args.tap is not None or args.observe:  # they read the URL's vhost: show that one's
            raise InputError(
                f"--vhost {short(args.vhost)} is not the broker URL's vhost {short(vhost)}: "
                "name the vhost in the URL (amqp://user:pass@host:port/VHOST, / is %2F)"
            )
        vhost = args.vhost
    return discovery_source(
        backend, vhost, management=args.management, definitions=args.definitions, every=args.refresh
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; a reader that closed our stdout (`| head`) ends it quietly."""
    try:
        with ExitStack() as closing:  # a --record file is closed however the session ends
            return _main(argv, closing)
    except OutputClosed:  # the run's threads were stopped on the way out (its finally blocks)
        return quiet_exit()


def _main(argv: Sequence[str] | None, closing: ExitStack) -> int:
    args = build_parser().parse_args(argv)
    if args.lessons or args.check_lesson is not None:
        return lesson_command(args.check_lesson)
    discovery: DiscoverySource | None = None
    try:
        _check_numbers(args.speed, args.repeat, args.timeout)
        body = _parse_body(args.body)
        broker = args.broker or DEFAULT_BROKER_URL
        discovers = args.replay is None and _discovers(args, broker)
        if args.vhost is None and not discovers:
            args.vhost = "/"
        if args.replay is not None:
            _check_replay(args)
            engine: Engine = ReplayEngine(
                Recording(args.replay), speed=args.speed, announce_end=not args.headless
            )
        elif args.run is not None:
            if not args.run:
                raise InputError("--run needs a SCRIPT.py")
            if args.tap is not None or args.publish or args.export is not None or args.serve:
                raise InputError(
                    "--run runs your program's own publishes: "
                    "it takes no --tap, --publish, --export or --serve"
                )
            engine = Engine(run_scenario(args.scenario, args.run[0], args.vhost), broker, speed=args.speed)
            script = ScriptRun(engine, args.run[0], args.run[1:])
        elif args.observe:
            if args.tap is not None or args.publish or args.export is not None or args.lesson is not None:
                raise ObserveError("--observe only watches: no --tap, --publish, --export or --lesson")
            if args.trace_on and args.serve:  # one tab's exit would turn it off under the others
                raise ObserveError("--trace-on is for one session, not --serve: use rabbitmqctl trace_on")
            if not backend_for(broker).detects_returns:
                raise ObserveError("--observe needs RabbitMQ: --broker amqp://user:pass@host:port/vhost")
            given = open_scenario(args.scenario, vhost=args.vhost) if args.scenario else None
            if given is None and not args.serve:  # the topology from discovery (--serve: each tab's)
                discovery = _discover(args, broker)
                given = discovery.first.scenario
            engine = Engine(observe_scenario(given, broker), broker, speed=args.speed)
            management = ManagementClient.for_broker(broker, args.management)
            engine.observe, engine.discovery = ObserveSpec(management, trace_on=args.trace_on), discovery
        elif args.tap is not None:
            tap = TapSpec.parse(args.tap)
            if not backend_for(broker).detects_returns:
                raise TapError("--tap needs a RabbitMQ broker: --broker amqp://user:pass@host:port/vhost")
            given = open_scenario(args.scenario, vhost=args.vhost) if args.scenario else None
            if given is None and not args.serve:  # from discovery (--serve: each tab discovers);
                discovery = _discover(args, broker)  # an exchange it does not show is tapped alone
                if discovery.first.topology.exchange(tap.exchange) is not None:
                    given = discovery.first.scenario
                    discovery = replace(discovery, beside_tap=True)
                else:
                    discovery = None
            engine = Engine(tap_scenario(tap, given), broker, speed=args.speed)
            engine.tap, engine.discovery = tap, discovery
        elif discovers and args.serve:  # each browser tab discovers for itself
            nothing_yet = Scenario("discovery", "discovery", Topology((), ()), ())
            engine = Engine(nothing_yet, broker, speed=args.speed)
        elif discovers:
            if args.publish or args.body is not None or args.exchange is not None:
                raise InputError(
                    "discovery only watches the broker: no --publish, --body or --exchange "
                    "(give --scenario to run one)"
                )
            discovery = _discover(args, broker)
            engine = Engine(discovery.first.scenario, broker, speed=args.speed)
            engine.discovery = discovery
        elif args.lesson is not None:
            lesson = load_lesson(args.lesson)
            if args.headless or args.scenario or args.serve or args.export:
                raise InputError("--lesson runs in the app: no --headless, --scenario, --serve or --export")
            engine = Engine(scenario_at(lesson, 0)[1], broker, speed=args.speed)
            for step in lesson.steps:  # later steps too: refused now, in one line, not mid-lesson
                if (problem := engine.backend.unsupported(step.topology)) is not None:
                    raise InputError(f"{lesson.source}: step {step.number}: {problem}")
        else:
            scenario: Scenario = open_scenario(args.scenario or DEFAULT_SCENARIO, vhost=args.vhost)
            if args.export is not None:
                text = export(scenario, args.export, vhost=args.vhost)
                if scenario.notice is not None:
                    stderr_line(f"notice: {scenario.notice}")
                write(sys.stdout, text)
                return 0
            _check_exchange(scenario, args.exchange)
            engine = Engine(scenario, broker, speed=args.speed)
        if not args.headless:
            _check_theme(args.theme)
        if args.serve:
            from tui.serve import ServeOptions

            serve = ServeOptions.from_args(args)
        if args.trace_on and not args.observe:
            raise InputError("--trace-on goes with --observe")
        if (recorder := _recorder(args, engine)) is not None:  # last: a refused line leaves no file
            closing.callback(recorder.close)
    except InputError as exc:  # a bug is not caught here: Python prints its traceback and exits 1
        stderr_line(f"error: {exc}")
        return EXIT_BAD_INPUT
    notice = engine.scenario.notice
    if args.headless and notice is not None:
        stderr_line(f"notice: {notice}")
    if isinstance(engine, ReplayEngine):
        if args.headless:
            return run_replay_headless(engine, args.json, sys.stdout)
        from tui.app import run_app

        return run_app(engine, play_script=False, theme=args.theme)
    if args.run is not None:
        options = HeadlessOptions(play_script=not args.no_script, timeout=args.timeout, as_json=args.json)
        if args.headless:
            return run_script_headless(engine, script, options)
        from tui.app import run_app

        return run_app(engine, play_script=not args.no_script, theme=args.theme, script=script)
    watching = engine.tap is not None or engine.discovery is not None or engine.observe is not None
    if args.headless and watching:
        return run_tap_headless(engine, args.timeout, args.json)
    if args.headless:
        options = HeadlessOptions(
            publish=list(args.publish),
            repeat=args.repeat,
            body=body,
            play_script=not args.no_script,
            timeout=args.timeout,
            as_json=args.json,
            exchange=args.exchange,
        )
        return run_headless(engine, options)
    if args.lesson is not None:
        from tui.lesson_app import run_lesson  # Textual is imported only for the TUI

        return run_lesson(engine, lesson, theme=args.theme)
    if args.serve:
        from tui.serve import run_server

        return run_server(serve)
    from tui.app import run_app  # Textual is imported only for the TUI

    return run_app(engine, play_script=not args.no_script, theme=args.theme)


REPLAY_ALONE = (
    "scenario", "broker", "tap", "run", "lesson", "publish", "export", "serve", "record", "management",
    "definitions", "observe", "trace_on",
)


def _check_replay(args: argparse.Namespace) -> None:
    """--replay plays what the file holds: the options that choose or feed a session do not apply."""
    given = [name for name in REPLAY_ALONE if getattr(args, name) not in (None, [], False)]
    if given:
        options = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise InputError(f"--replay plays a recording with no broker: it takes no {options}")


def _recorder(args: argparse.Namespace, engine: Engine) -> Recorder | None:
    """--record: the file opened (one line and exit 2 when it cannot be), its header written, and the
    engine's stream teed into it (a reset's engine is teed too: Engine.renewed)."""
    if args.record is None:
        return None
    if args.export is not None or args.serve:
        raise InputError("--record records a session: not with --export or --serve")
    _refuse_recording_over_an_input(args)
    mode = (
        "run" if args.run is not None
        else "tap" if args.tap is not None
        else "observe" if args.observe
        else "lesson" if args.lesson is not None
        else "discovery" if engine.discovery is not None
        else "scenario"
    )
    scenario = engine.scenario
    recorder = Recorder(
        args.record,
        header(
            broker=engine.backend.display_url(),
            scenario=scenario.name,
            title=scenario.title,
            topology=engine.topology,
            mode=mode,
        ),
    )
    recorder.tee(engine.events)
    return recorder


def _refuse_recording_over_an_input(args: argparse.Namespace) -> None:
    """--record onto the scenario, lesson, definitions or program the session reads would overwrite the
    user's file with the recording: one line instead."""
    record = Path(args.record)
    inputs = {
        "--scenario": args.scenario,
        "--lesson": args.lesson,
        "--definitions": args.definitions,
        "--run": args.run[0] if args.run else None,
    }
    for option, given in inputs.items():
        if given is None or not record.exists() or not Path(given).exists():
            continue
        if record.samefile(given):
            raise InputError(
                f"--record {visible(args.record)}: is the file {option} reads (record to another file)"
            )


def _steps(count: int) -> str:
    return f"{count} step" if count == 1 else f"{count} steps"


def lesson_command(check: str | None) -> int:
    """--lessons: one built-in lesson a line (name, title, steps). --check-lesson: every problem of
    a teacher's file, one line each, exit 2; nothing and exit 0 when it can be played."""
    if check is None:
        for name in builtin_lesson_names():
            lesson = load_lesson(name)  # a broken built-in is a bug: its traceback, exit 1
            write(sys.stdout, f"{name:<17} {_steps(len(lesson.steps))}  {lesson.title}\n")
        return 0
    try:
        lesson = load_lesson(check)
    except LessonError as exc:
        for line in exc.problems:
            stderr_line(line)
        return EXIT_BAD_INPUT
    write(sys.stdout, f"{visible(check)}: ok, {_steps(len(lesson.steps))}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
