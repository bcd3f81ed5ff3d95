"""A reader that stops reading (`mqscope --headless ... | head -3`) is not a bug.

Writes to stdout go through `write`, which turns the pipe's EPIPE into OutputClosed; the CLI catches
that one exception (not every BrokenPipeError: a broken socket to RabbitMQ would be a bug), lets the
run stop its threads, and exits with EXIT_OUTPUT_CLOSED and no traceback. That is what the shell
reports for a tool killed by SIGPIPE (`yes | head`), without dying by the signal: Python ignores
SIGPIPE so that a broker socket's EPIPE is an exception, and restoring the default would let that
socket kill the process mid-cleanup.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

EXIT_OUTPUT_CLOSED = 141
"""128 + SIGPIPE: what `set -o pipefail` sees from `yes | head`, so scripts treat us like any tool."""


class OutputClosed(Exception):
    """Whoever read our stdout has gone: stop producing output, quietly."""


def write(out: TextIO, text: str) -> None:
    """Write and flush `text`; OutputClosed when the reader has closed the pipe."""
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError as exc:
        raise OutputClosed() from exc


def quiet_exit() -> int:
    """The exit status after OutputClosed, with stdout pointed at /dev/null first: the interpreter
    flushes sys.stdout on the way out, and what it still buffers would fail again, printing
    "Exception ignored ... BrokenPipeError" (Python's documented recipe, signal module notes)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return EXIT_OUTPUT_CLOSED
