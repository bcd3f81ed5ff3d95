"""`--run SCRIPT.py [ARGS...]`: a user's kombu program, unchanged, inside mqscope's process.

The program runs as `python SCRIPT.py ARGS...` would run it (runpy, `__main__`, sys.argv and
sys.path[0] set) on a daemon thread of its own, started through the one thread runner. Everything it
does on an in-process broker is reported as flow events (core.script_watch); each whole line it writes
to stdout or stderr becomes a `script_output` event, in order with the rest, so output never tears a
line or a JSON stream. How it ends is a `script_ended` event with the exit code `python SCRIPT.py`
would give: 0, its SystemExit code, or 1 with the traceback of an exception it raised.

Stopping a run cannot stop arbitrary code: it closes the program's mqscope:// connections (a
drain_events() with no timeout then raises in the program) and leaves the thread, a daemon, to die
with the process.
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from core.backends.inprocess import InProcessBackend
from core.backends.memory import MemoryBackend
from core.backends.memory_watch import watching_memory
from core.broker import Broker
from core.controls import StopCheck
from core.engine import Engine
from core.errors import InputError, one_line
from core.events import FlowEvent, Notice, ScriptEnded, ScriptOutput
from core.runner import LoopRunner, on_loop_thread
from core.script_watch import ScriptWatch, start_watching, stop_watching
from core.topology import Topology

LOOP_NAME = "script"
MEMORY_NOTICE = (
    "the program uses kombu's memory:// transport, which is not RabbitMQ: its topic routing differs, a "
    "requeue publishes again through the exchange, and TTL, max-length, dead-lettering and mandatory "
    "are ignored; mqscope shows what memory:// does, with a warning wherever RabbitMQ would differ"
)


class ScriptError(InputError):
    """A --run SCRIPT.py that cannot be run (missing, not a file)."""


def check_script(path: str) -> Path:
    """The script's path, or ScriptError in one line."""
    script = Path(path)
    if not script.exists():
        raise ScriptError(f"--run: no such file '{path}'")
    if not script.is_file():
        raise ScriptError(f"--run: '{path}' is not a file")
    return script


class LineSink:
    """A stand-in for sys.stdout or sys.stderr while a program runs: what the program's threads write
    becomes one event per whole line. mqscope's own threads (the main thread: headless output,
    Textual's loop; and every loop thread, e.g. a kombu warning on the producer's) write through to
    the stream it replaced. The program's threads are its own and every thread it starts."""

    def __init__(self, original: TextIO, stream: str, emit: Any, program: Callable[[], int | None]) -> None:
        self.original = original
        self.program = program
        """The ident of the program's own thread (a loop thread, but the program's)."""
        self.stream = stream
        self.emit = emit
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def _ours(self) -> bool:
        """True when mqscope, not the program, is writing."""
        if threading.current_thread() is threading.main_thread():
            return True
        return on_loop_thread() and threading.get_ident() != self.program()

    def write(self, text: str) -> int:
        if self._ours():
            return self.original.write(text)
        ident = threading.get_ident()
        with self._lock:
            pending = self._partial.pop(ident, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[ident] = rest
            for line in lines:
                self.emit(ScriptOutput(stream=self.stream, text=line))
        return len(text)

    def flush(self) -> None:
        if self._ours():
            self.original.flush()

    def finish(self) -> None:
        """Emit what is left of unfinished lines (the program ended mid-line)."""
        with self._lock:
            rest, self._partial = list(self._partial.values()), {}
        for line in rest:
            self.emit(ScriptOutput(stream=self.stream, text=line))

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # encoding, errors, fileno...: the replaced stream's
        return getattr(self.original, name)


def exit_code_of(exc: SystemExit) -> tuple[int, str]:
    """(exit code, text for stderr) as the interpreter treats a SystemExit at the top."""
    code = exc.code
    if code is None:
        return 0, ""
    if isinstance(code, int):
        return code, ""
    return 1, str(code)


def script_traceback(exc: BaseException, script: Path) -> str:
    """The traceback from the script's own frames on (runpy's and mqscope's are not the user's)."""
    tb: TracebackType | None = exc.__traceback__
    target = str(script.resolve())
    while tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()) != target:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


class ScriptRun:
    """One program run under mqscope's watch; start it once the engine's broker is up."""

    def __init__(self, engine: Engine, path: str, args: list[str]) -> None:
        self.engine = engine
        self.script = check_script(path)
        self.args = args
        self.watch = ScriptWatch(engine.emit, self._observe)
        self.watch.on_connect = self._connected
        self._heard: dict[str, Callable[[], None] | None] = {}
        """Brokers the program connected to (by kind and name) -> how to stop listening to it."""
        self._lock = threading.Lock()
        self.runner = LoopRunner(on_error=engine.report_failure)
        self.ended = threading.Event()
        self.ended_at: float | None = None
        self.exit_code: int | None = None
        self.error = ""
        """The exception the program ended with, on one line ("" when it ended without one)."""
        self._sinks: list[LineSink] = []
        self._memory = watching_memory(self._topology)
        self._started = False
        self._ident: int | None = None

    @property
    def name(self) -> str:
        return self.script.name

    def _topology(self) -> Topology:
        return self.engine.topology

    def _observe(self, change: Any) -> None:
        self.engine.observe_topology(change, origin="script")

    def _connected(self, kind: str, broker: object) -> None:
        """The program opened a connection: hear its in-process broker's own reports (routed,
        requeued, dead-lettered...) unless the engine already does, and say once, per broker, when
        it is not the broker whose queue depths mqscope polls."""
        backend = self.engine.backend
        own = backend.broker if isinstance(backend, InProcessBackend) else None
        key = kind if not isinstance(broker, Broker) else f"{kind}://{broker.name}"
        with self._lock:
            if key in self._heard:
                return
            self._heard[key] = None
            if isinstance(broker, Broker) and broker is not own:
                self._heard[key] = broker.subscribe(self.engine.emit)
        same = broker is own if isinstance(broker, Broker) else isinstance(backend, MemoryBackend)
        if kind == "memory":
            self.emit(Notice(level="warning", text=MEMORY_NOTICE))
        if not same:
            text = (
                f"the program connects to {key} but mqscope polls {backend.display_url()}: its queue "
                f"depths are not shown (run with --broker {key})"
            )
            self.emit(Notice(level="warning", text=text))

    def emit(self, event: FlowEvent) -> None:
        self.engine.emit(event)

    def start(self) -> None:
        """Watch in-process brokers, capture output, and start the program on its thread."""
        self._started = True
        start_watching(self.watch)
        self._memory.__enter__()
        out = LineSink(sys.stdout, "stdout", self.emit, self._program_thread)
        err = LineSink(sys.stderr, "stderr", self.emit, self._program_thread)
        self._sinks = [out, err]
        sys.stdout, sys.stderr = out, err
        self.runner.start(LOOP_NAME, self._run)

    def _program_thread(self) -> int | None:
        return self._ident

    def _run(self, _should_stop: StopCheck) -> None:
        self._ident = threading.get_ident()
        script = str(self.script)
        sys.argv = [script, *self.args]
        sys.path.insert(0, str(self.script.resolve().parent))
        code, error, trace = 0, "", ""
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code, text = exit_code_of(exc)
            if text:
                print(text, file=sys.stderr)
        except BaseException as exc:  # the program's own failure: shown, the app stays up
            code, error, trace = 1, one_line(exc), script_traceback(exc, self.script)
            for line in trace.rstrip("\n").split("\n"):  # on its stderr, as Python prints it
                self.emit(ScriptOutput(stream="stderr", text=line))
        for sink in self._sinks:
            sink.finish()
        self._ident = None  # idents are reused: a later loop thread of mqscope's is not the program
        self.exit_code, self.error = code, error
        self.ended_at = time.monotonic()
        self.emit(ScriptEnded(script=self.name, exit_code=code, error=error, traceback=trace))
        self.ended.set()

    def stop(self) -> None:
        """Close the program's connections and stop watching; its thread is left to the process."""
        if not self._started:
            return
        self._started = False
        with self._lock:
            unsubscribes, self._heard = [u for u in self._heard.values() if u is not None], {}
        for unsubscribe in unsubscribes:
            unsubscribe()
        self.watch.close_connections()
        stop_watching(self.watch)
        self._memory.__exit__(None, None, None)
        for sink in self._sinks:
            if sys.stdout is sink:
                sys.stdout = sink.original
            if sys.stderr is sink:
                sys.stderr = sink.original
        self.runner.stop()
