"""--record and --replay on real `python -m tui` runs: the same lines replayed, a killed session's file
still replays, and bad input (a path that cannot be written, a file that is not a recording, options
a replay cannot take) is one stderr line and exit 2 before anything starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mqscope(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_text_mode_replays_the_lines_the_session_printed(tmp_path: Path) -> None:
    path = str(tmp_path / "seed.jsonl")
    live = mqscope("--headless", "--speed", "4", "--record", path)
    assert (live.returncode, live.stderr) == (0, "")
    replayed = mqscope("--headless", "--speed", "4", "--replay", path)
    assert (replayed.returncode, replayed.stderr) == (0, "")
    assert replayed.stdout == live.stdout
    assert "ACKNOWLEDGED" in live.stdout


def test_a_killed_session_leaves_a_file_that_replays(tmp_path: Path) -> None:
    """Every batch is flushed as it is drained: SIGKILL mid-run loses at most the line being written."""
    path = tmp_path / "backlog.jsonl"
    args = ["--headless", "--json", "--scenario", "backlog", "--timeout", "60", "--record", str(path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not (path.exists() and path.read_bytes().count(b'"event": "acked"') >= 5):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the recording never grew"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()
    raw = path.read_bytes()
    whole = raw[: raw.rfind(b"\n") + 1].decode().splitlines()[1:]  # the header is line 1
    torn = raw[raw.rfind(b"\n") + 1 :]
    replayed = mqscope("--headless", "--json", "--speed", "4", "--replay", str(path))
    assert (replayed.returncode, replayed.stderr) == (0, "")
    events = [json.loads(line) for line in replayed.stdout.splitlines()]
    recorded = [json.loads(line) for line in whole]
    for event in events + recorded:
        event.pop("ts")
    if torn:
        notice = events.pop()
        assert notice["event"] == "notice"
        assert notice["text"] == (
            f"{path} line {len(whole) + 2}: "
            "truncated (the recording ends in the middle of this line); skipped"
        )
    assert events == recorded


def test_a_path_that_cannot_be_written_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    done = mqscope("--headless", "--record", str(tmp_path / "missing" / "r.jsonl"))
    assert (done.returncode, done.stdout) == (2, "")
    assert (
        done.stderr == f"error: --record {tmp_path / 'missing' / 'r.jsonl'}: no such directory "
        f"'{tmp_path / 'missing'}'\n"
    )
    done = mqscope("--headless", "--record", str(tmp_path))
    assert (done.returncode, done.stderr) == (2, f"error: --record {tmp_path}: is a directory\n")


def test_a_refused_command_line_leaves_no_recording(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    done = mqscope("--headless", "--record", str(path), "--exchange", "nope")
    assert done.returncode == 2 and not path.exists()


def test_recording_over_the_file_the_session_reads_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    scenario = tmp_path / "mine.toml"
    scenario.write_text((ROOT / "core" / "scenarios" / "seed.toml").read_text())
    kept = scenario.read_bytes()
    done = mqscope("--headless", "--scenario", str(scenario), "--record", str(scenario))
    assert (done.returncode, done.stdout) == (2, "")
    assert (
        done.stderr == f"error: --record {scenario}: is the file --scenario reads (record to another file)\n"
    )
    assert scenario.read_bytes() == kept


def test_replay_input_errors_are_one_line(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text("[scenario]\nname = 'x'\n")
    done = mqscope("--headless", "--replay", str(toml))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: --replay {toml}: not an mqscope recording (line 1 is not JSON: is it a JSONL file?)\n"
    )
    done = mqscope("--headless", "--replay", str(tmp_path / "none.jsonl"))
    assert (done.returncode, done.stderr) == (2, f"error: --replay {tmp_path / 'none.jsonl'}: no such file\n")
    done = mqscope("--replay", str(toml), "--broker", "amqp://u:secret@127.0.0.1:1//", "--publish", "k")
    assert (done.returncode, done.stderr) == (
        2,
        "error: --replay plays a recording with no broker: it takes no --broker, --publish\n",
    )


def test_a_run_of_your_program_replays_with_its_output_and_topology(tmp_path: Path) -> None:
    path = str(tmp_path / "run.jsonl")
    program = str(ROOT / "tests" / "data" / "kombu_tutorial_mqscope.py")
    live = mqscope("--headless", "--json", "--timeout", "60", "--record", path, "--run", program)
    assert live.returncode == 0, live.stderr
    replayed = mqscope("--headless", "--json", "--speed", "4", "--replay", path)
    assert (replayed.returncode, replayed.stderr) == (0, "")

    def without_ts(out: str) -> list[dict[str, object]]:
        return [{k: v for k, v in json.loads(line).items() if k != "ts"} for line in out.splitlines()]

    events = without_ts(live.stdout)
    assert {"script_output", "script_ended", "topology"} <= {e["event"] for e in events}
    assert without_ts(replayed.stdout) == events
