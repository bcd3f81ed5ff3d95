"""`--serve`'s options: what each tab runs, and what is refused before anything listens."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys

import pytest

from browser_support import ROOT, free_port
from tui.cli import build_parser, main
from tui.serve import ServeOptions, is_loopback


def _options(*argv: str) -> ServeOptions:
    return ServeOptions.from_args(build_parser().parse_args(["--serve", *argv]))


def test_each_tab_runs_this_python_with_the_same_session_options() -> None:
    options = _options(
        "--scenario", "my lesson.toml", "--broker", "memory://", "--speed", "0.5", "--no-script",
        "--theme", "presenter", "--port", "8123",
    )  # fmt: skip
    words = shlex.split(options.command)
    assert words[:3] == [sys.executable, "-m", "tui"]
    assert words[3:] == [
        "--scenario", "my lesson.toml", "--broker", "memory://", "--theme", "presenter",
        "--speed", "0.5", "--no-script",
    ]  # fmt: skip
    assert "--serve" not in words and (options.host, options.port) == ("127.0.0.1", 8123)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_other_hosts_need_public(host: str) -> None:
    assert not is_loopback(host)
    assert _options("--host", host, "--public").host == host


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--host", "0.0.0.0"], "not loopback"),
        (["--port", "0"], "--port must be between 1 and 65535"),
        (["--port", "70000"], "--port must be between 1 and 65535"),
        (["--headless"], "leave out --headless"),
        (["--theme", "nope"], "unknown theme"),
        (["--scenario", "no_such_lesson"], "no_such_lesson"),
    ],
)
def test_bad_serve_options_are_one_line_and_exit_2(argv: list[str], said: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--serve", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and said in captured.err, captured.err


def test_the_banner_is_plain_text_and_shows_no_password() -> None:
    """The server says where it serves, on one line; a --broker password and a path's brackets are
    not in it (the tab command holds the URL, and textual-serve's own banner reads markup)."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui",
            "--serve",
            "--port",
            str(port),
            "--broker",
            "amqp://guest:s3cret@127.0.0.1:1//",
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    assert (
        first.strip() == f"mqscope: serving on http://127.0.0.1:{port} (an app and a broker per browser tab)"
    )
