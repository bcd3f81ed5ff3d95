"""Recordings: a session's event stream written as JSON lines (`--record`), and read back (`--replay`).

A recording is a header line, then one event a line in `FlowEvent.to_json` form, in stream order.
The recorder tees the stream every view reads (EventStream.tees), so it writes exactly what the
screen or the headless printer got, and flushes each batch: a session killed mid-run leaves every
whole line it drained (a torn last line is reported and skipped on replay).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from core.errors import InputError, one_line
from core.event_json import EventJsonError, change_from_json, event_from_json
from core.events import EventStream, FlowEvent, Notice
from core.text import json_line, visible
from core.topology import Topology
from core.topology_changes import apply_change, declarations

FORMAT = "mqscope-recording"
VERSION = 1
"""The recording format this mqscope writes and reads (a newer one is refused in one line)."""


class RecordingError(InputError):
    """A recording that cannot be written or read as one; str() is one line naming the file."""


def mqscope_version() -> str:
    try:
        return importlib.metadata.version("mqscope")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def header(
    *, broker: str, scenario: str, title: str, topology: Topology, mode: str, started: datetime | None = None
) -> dict[str, Any]:
    """The first line: what was recorded, where (`broker` already masked) and when; the topology the
    session started from (a tap's or a lesson's is never announced as events, yet views need it)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "mqscope": mqscope_version(),
        "broker": broker,
        "scenario": scenario,
        "title": title,
        "mode": mode,
        "started": (started or datetime.now(UTC)).isoformat(timespec="seconds"),
        "topology": [{"op": c.op, "kind": c.kind, **c.fields()} for c in declarations(topology)],
    }


class Recorder:
    """Writes the header at once, then every drained batch of the streams it tees, flushed.

    A write that fails (disk full, file gone) stops the recording and says so once, as an error
    notice on the stream it was teeing: the session goes on, the user learns the file is short.
    """

    def __init__(self, path: str, head: Mapping[str, Any]) -> None:
        self.path = path
        self._file: IO[str] | None = _open_for_writing(path)
        self._lock = threading.Lock()
        self.written = 0
        """Events written so far (the header not counted)."""
        self._write_lines([json_line(dict(head))], None)

    def tee(self, stream: EventStream) -> None:
        """Record `stream` from now on (a reset's new stream takes its tees: Engine.renewed)."""
        stream.tees.append(self.write)

    def write(self, stream: EventStream | None, events: Sequence[FlowEvent]) -> None:
        """Write `events` drained from `stream` (where a failure to write is reported)."""
        self._write_lines([json_line(e.to_json()) for e in events], stream)
        self.written += len(events)

    def _write_lines(self, lines: list[str], stream: EventStream | None) -> None:
        with self._lock:
            file = self._file
            if file is None:
                return
            try:
                file.write("\n".join(lines) + "\n")
                file.flush()
            except OSError as exc:
                self._file = None
                _close_quietly(file)
                text = f"--record {visible(self.path)}: {one_line(exc)}; recording stopped"
                if stream is None:
                    raise RecordingError(text) from None
                stream.put(Notice(level="error", text=text))

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _close_quietly(file: IO[str]) -> None:
    """Close a file whose write already failed: the first failure is the one reported."""
    try:
        file.close()
    except OSError:
        return


def _open_for_writing(path: str) -> IO[str]:
    """The file, created or emptied; a path that cannot be written is one line (exit 2 at start)."""
    where = f"--record {visible(path)}"
    if os.path.isdir(path):
        raise RecordingError(f"{where}: is a directory")
    try:
        return open(path, "w", encoding="utf-8")
    except FileNotFoundError:
        raise RecordingError(f"{where}: no such directory {visible(str(Path(path).parent))!r}") from None
    except OSError as exc:
        raise RecordingError(f"{where}: {one_line(exc)}") from None


# -- reading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordingHeader:
    """What the header line says about the session."""

    version: int
    mqscope: str
    broker: str
    scenario: str
    title: str
    mode: str
    started: str
    topology: Topology


@dataclass(frozen=True)
class Line:
    """One line after the header: the JSON object its event is built from (when it is played, so the
    event is stamped then), or why it is skipped."""

    where: str
    """`FILE line N`, as a skipped line's notice names it."""
    obj: Any = None
    problem: str | None = None

    @property
    def ts(self) -> float | None:
        """The recorded `ts` (None when the line has none to keep the spacing by)."""
        ts = self.obj.get("ts") if isinstance(self.obj, dict) else None
        return float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None

    @property
    def steps(self) -> bool:
        """A message's event or a topology change (what a freeze holds back: core.replay.steps_on)."""
        obj = self.obj
        return isinstance(obj, dict) and (obj.get("msg") is not None or obj.get("event") == "topology")

    def event(self) -> tuple[FlowEvent, bool]:
        """(the event, stamped now, False), or (a warning Notice saying why the line is skipped, True)."""
        problem = self.problem
        if problem is None:
            try:
                return event_from_json(self.obj, restamp=True), False
            except EventJsonError as exc:
                problem = str(exc)
        return Notice(level="warning", text=f"{self.where}: {problem}; skipped"), True


class Recording:
    """A recording opened for replay: its header read and checked, its events read as they are asked."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = visible(path)
        try:
            with open(path, "rb") as file:
                first = file.readline()
        except FileNotFoundError:
            raise RecordingError(f"--replay {self.name}: no such file") from None
        except IsADirectoryError:
            raise RecordingError(f"--replay {self.name}: is a directory") from None
        except OSError as exc:
            raise RecordingError(f"--replay {self.name}: {one_line(exc)}") from None
        self.header = self._header(first)

    def _header(self, raw: bytes) -> RecordingHeader:
        fail = f"--replay {self.name}: not an mqscope recording"
        if not raw.strip():
            raise RecordingError(f"{fail} (it is empty)")
        try:
            head = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError):
            raise RecordingError(f"{fail} (line 1 is not JSON: is it a JSONL file?)") from None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise RecordingError(f"{fail} (line 1 is not its header: was it written by --record?)")
        version = head.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise RecordingError(f"{fail} (its header has no format version)")
        if version > VERSION:
            raise RecordingError(
                f"--replay {self.name}: recording format {version} is newer than this mqscope reads "
                f"({VERSION}): it was recorded by mqscope {visible(str(head.get('mqscope')))}"
            )
        topology = Topology((), ())
        changes = head.get("topology", [])
        if not isinstance(changes, list):
            raise RecordingError(f"--replay {self.name}: line 1: header 'topology' must be a list")
        for entry in changes:
            try:
                topology = apply_change(topology, change_from_json(entry if isinstance(entry, dict) else {}))
            except EventJsonError as exc:
                raise RecordingError(f"--replay {self.name}: line 1: header {exc}") from None
        return RecordingHeader(
            version=version,
            mqscope=_word(head, "mqscope"),
            broker=_word(head, "broker"),
            scenario=_word(head, "scenario"),
            title=_word(head, "title"),
            mode=_word(head, "mode"),
            started=_word(head, "started"),
            topology=topology,
        )

    def lines(self) -> Iterator[Line]:
        """Each line after the header, read as JSON; its event is built when it is played (a Notice
        naming the line instead when it is corrupt, torn, or an event this mqscope does not know)."""
        with open(self.path, "rb") as file:
            file.readline()
            for number, raw in enumerate(file, start=2):
                yield self._line(number, raw)

    def _line(self, number: int, raw: bytes) -> Line:
        where = f"{self.name} line {number}"
        torn = not raw.endswith(b"\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Line(where, problem=f"not UTF-8 text (byte {exc.start + 1})")
        if not text.strip():
            return Line(where, problem="empty line")
        try:
            return Line(where, json.loads(text, parse_constant=_refuse_constant))
        except json.JSONDecodeError as exc:
            if torn:
                return Line(where, problem="truncated (the recording ends in the middle of this line)")
            return Line(where, problem=f"not JSON ({exc.msg} at column {exc.colno})")
        except NotJsonConstant as exc:
            return Line(where, problem=f"not JSON ({exc})")
        except RecursionError:
            return Line(where, problem="JSON nested too deep")


class NotJsonConstant(ValueError):
    """Python's json reads NaN and Infinity, which JSON has not: a `"ts": Infinity` would stall a replay."""


def _refuse_constant(name: str) -> Any:
    raise NotJsonConstant(f"{name} is not a JSON number")


def _word(head: Mapping[str, Any], key: str) -> str:
    value = head.get(key, "")
    return visible(value) if isinstance(value, str) else visible(str(value))
