"""A reader that closes mqscope's stdout early (`mqscope --headless ... | head -3`) is not a bug: the
run stops quietly, exit 141 (what the shell reports for `yes | head`), nothing on stderr, and the
process ends (no thread keeps it alive)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.closed_output import EXIT_OUTPUT_CLOSED, OutputClosed, write

ROOT = Path(__file__).resolve().parent.parent


def read_then_close(*args: str, lines: int) -> tuple[list[bytes], int, bytes]:
    """Start `python -m tui ARGS`, read `lines` lines, close the pipe like `head` does, wait."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    got = [proc.stdout.readline() for _ in range(lines)]
    proc.stdout.close()
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return got, code, proc.stderr.read()


@pytest.mark.parametrize("mode", [[], ["--json"]])
def test_headless_piped_into_head_exits_141_without_a_traceback(mode: list[str]) -> None:
    # 20,000 messages make far more output than a pipe buffers: the run is mid-flow when we go.
    args = ["--headless", *mode, "--publish", "x", "--repeat", "20000"]
    got, code, stderr = read_then_close(*args, lines=3)
    assert len(got) == 3 and all(line.endswith(b"\n") for line in got)
    assert (code, stderr.decode()) == (EXIT_OUTPUT_CLOSED, "")


def test_a_run_that_finishes_before_the_reader_goes_still_exits_0() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--headless", "--no-script", "--publish", "x"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, b"")


class _ClosedPipe:
    """A stdout whose reader has gone, as the OS reports it."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_write_turns_a_broken_pipe_into_output_closed() -> None:
    with pytest.raises(OutputClosed):
        write(_ClosedPipe(), "line\n")  # type: ignore[arg-type]
