"""The README runs as written: every command in its `sh` blocks, every scenario in its `toml` blocks,
every test in its `python` blocks.

The blocks are read from README.md itself, so an edit that breaks an example fails here. Each fenced
block says what it is: `sh` (commands: run here, or skipped for a stated reason), `toml` (scenarios:
loaded, validated and run headless), `python` (a teacher's pilot test: run with `python -m pytest` in
a folder of its own, no conftest) or `text` (drawings and the synopsis, whose options must exist).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.lesson import load_lesson
from core.scenario import load_scenario
from teacher_folder import run_pytest
from tui.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LANGUAGES = {"sh", "toml", "text", "python"}
RUN_TIMEOUT = 90.0  # bounds a hung command; nothing here is timed
HEADLESS_TIMEOUT = "20"  # added to headless commands that give none: a hang fails, it does not wait 30 s
NOT_RUN = {
    "pip": "it would change the environment every test shares: what it installs is checked instead",
    "pytest": "it is the suite this test belongs to",
}


@dataclass(frozen=True)
class Block:
    lang: str
    line: int
    text: str


@dataclass(frozen=True)
class Command:
    text: str
    exit_code: int
    line: int

    @property
    def kind(self) -> str:
        words = self.text.split()
        if words[:4] == ["python", "-m", "pip", "install"]:
            return "pip"
        if words[:3] == ["python", "-m", "pytest"]:
            return "pytest"
        if "scripts/rabbitmq.sh" in self.text:
            return "rabbitmq"
        if words[:3] == ["python", "-m", "tui"] or words[:1] == ["mqscope"]:
            cli = {"--headless", "--help", "--export", "--lessons", "--check-lesson"}
            return "cli" if cli & set(words) else "tui"
        return "unknown"


def readme_blocks() -> list[Block]:
    blocks: list[Block] = []
    lang: str | None = None
    start, body = 0, []
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            if lang is None:
                lang, start, body = line[3:].strip(), number, []
            else:
                blocks.append(Block(lang, start, "\n".join(body) + "\n"))
                lang = None
        elif lang is not None:
            body.append(line)
    assert lang is None, f"README.md:{start}: a code block is never closed"
    return blocks


def readme_commands() -> list[Command]:
    """Every command of every sh block; `a && b` is two commands, `# exit N` says the expected code."""
    commands: list[Command] = []
    for block in readme_blocks():
        if block.lang != "sh":
            continue
        for offset, line in enumerate(block.text.splitlines(), 1):
            code, _, comment = line.partition(" #")
            expected = re.search(r"\bexit (\d+)\b", comment)
            for part in code.split(" && "):
                if part.strip():
                    exit_code = int(expected.group(1)) if expected else 0
                    commands.append(Command(part.strip(), exit_code, block.line + offset))
    return commands


def of_kind(kind: str) -> list[Command]:
    return [c for c in readme_commands() if c.kind == kind]


def ids(commands: list[Command]) -> list[str]:
    return [f"L{c.line}:{c.text[:50]}" for c in commands]


def shell_env(**extra: str) -> dict[str, str]:
    """`python` is this interpreter, and this checkout's code comes first (not an installed copy)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_shell(command: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=shell_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def with_timeout(command: Command) -> str:
    if "--headless" in command.text.split() and "--timeout" not in command.text:
        return f"{command.text} --timeout {HEADLESS_TIMEOUT}"
    return command.text


# -- the shape of the README ----------------------------------------------------------------------
def test_every_code_block_says_what_it_is() -> None:
    unlabeled = [
        f"README.md:{b.line}: {b.lang or '(none)'}" for b in readme_blocks() if b.lang not in LANGUAGES
    ]
    assert unlabeled == [], f"label each block one of {sorted(LANGUAGES)}: {unlabeled}"


def test_every_command_is_one_this_test_runs_or_explains() -> None:
    """Each command is run below, or is of a kind NOT_RUN explains; anything else needs teaching here."""
    run_here = {"cli", "tui", "rabbitmq"}
    unknown = [
        f"README.md:{c.line}: {c.text}" for c in readme_commands() if c.kind not in run_here | set(NOT_RUN)
    ]
    assert unknown == [], f"teach tests/test_readme.py to run these (or why it cannot): {unknown}"
    assert of_kind("cli") and of_kind("pip"), "the README lost its examples"


# -- sh blocks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", of_kind("cli"), ids=ids(of_kind("cli")))
def test_cli_command_runs_as_written(command: Command) -> None:
    result = run_shell(with_timeout(command))
    assert result.returncode == command.exit_code, (
        f"README.md:{command.line}: {command.text}\n{result.stderr}"
    )
    if command.exit_code == 2:  # bad input: one line on stderr, and that is all
        assert len(result.stderr.splitlines()) == 1 and result.stdout == "", result
    else:
        assert result.stdout.strip(), "it printed nothing"
    if command.exit_code == 0:
        assert result.stderr == "", result.stderr


@pytest.mark.parametrize("command", of_kind("pip"), ids=ids(of_kind("pip")))
def test_pip_install_names_what_the_project_has(command: Command) -> None:
    """Not run (NOT_RUN["pip"]): what it names must exist."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    target = command.text.split()[-1].strip("'\"")
    assert target.startswith("."), f"README.md:{command.line}: installs {target!r}, not this checkout"
    extras = re.findall(r"[\w-]+", target[target.index("[") :]) if "[" in target else []
    assert set(extras) <= set(project["optional-dependencies"]), (command.text, extras)


def test_tui_command_starts_and_quits_on_ctrl_q() -> None:
    """`python -m tui` as written, in a pseudo-terminal: the seed scenario appears, ctrl+q exits 0."""
    commands = of_kind("tui")
    assert commands, "the README no longer says how to start the app"
    for command in commands:
        main, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        app = subprocess.Popen(
            ["bash", "-c", command.text],
            cwd=ROOT,
            env=shell_env(TERM="xterm-256color"),
            stdin=child,
            stdout=child,
            stderr=child,
            start_new_session=True,
        )
        os.close(child)
        try:
            screen = _read_until(main, "media_exchange", RUN_TIMEOUT)
            assert "media_exchange" in screen, f"README.md:{command.line}: no seed scenario on screen"
            os.write(main, b"\x11")  # ctrl+q
            _read_until(main, None, RUN_TIMEOUT)
            assert app.wait(RUN_TIMEOUT) == 0, screen[-2000:]
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
            os.close(main)


ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[P\]][^\x1b\x07]*(\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b.")


def _read_until(fd: int, text: str | None, limit: float) -> str:
    """The terminal's output, escape codes removed, until `text` shows (None: until it closes)."""
    seen, deadline = b"", time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if text is not None and text in ANSI.sub("", seen.decode("utf-8", "replace")):
            break
    return ANSI.sub("", seen.decode("utf-8", "replace"))


@pytest.mark.rabbitmq
def test_rabbitmq_commands_run_as_written(tmp_path: Path) -> None:
    """The throw-away RabbitMQ block, in order, against a node of this test's own (its own state file)."""
    commands = of_kind("rabbitmq")
    assert commands, "the README no longer says how to start a RabbitMQ"
    if shutil.which("rabbitmq-server") is None and not Path("/usr/sbin/rabbitmq-server").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("RabbitMQ tests must run in CI, but rabbitmq-server is not installed")
        pytest.skip("rabbitmq-server is not installed (scripts/rabbitmq.sh install would apt-get it)")
    state = str(tmp_path / "rabbitmq.state")
    try:
        for command in commands:
            result = run_shell(with_timeout(command), MQSCOPE_RABBITMQ_STATE=state)
            where = f"README.md:{command.line}: {command.text}\n{result.stderr}"
            assert result.returncode == command.exit_code, where
            if command.text.split()[-1] in ("start", "url"):  # both print the node's URL
                assert re.fullmatch(r"amqp://guest:guest@127\.0\.0\.1:\d+//", result.stdout.strip()), where
            if command.text.startswith("python -m tui") and "--scenario" in command.text:
                assert "connected" in result.stdout and "ACKNOWLEDGED" in result.stdout, where
            elif command.text.startswith("python -m tui"):  # discovery: what the seed run declared
                assert "watching http://127.0.0.1:" in result.stdout, where
                assert "video_queue" in result.stdout and "ACKNOWLEDGED" not in result.stdout, where
    finally:
        subprocess.run(
            [str(ROOT / "scripts" / "rabbitmq.sh"), "stop", state], capture_output=True, timeout=120
        )


# -- toml blocks -----------------------------------------------------------------------------------
def is_lesson(block: Block) -> bool:
    """A `toml` block whose first table is [lesson] is a lesson file; the others are scenarios."""
    tables = re.findall(r"^\[(\w+)\]", block.text, re.MULTILINE)
    return bool(tables) and tables[0] == "lesson"


TOML_BLOCKS = [b for b in readme_blocks() if b.lang == "toml" and not is_lesson(b)]
LESSON_BLOCKS = [b for b in readme_blocks() if b.lang == "toml" and is_lesson(b)]


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=[f"L{b.line}" for b in TOML_BLOCKS])
def test_scenario_block_loads_and_runs(block: Block, tmp_path: Path) -> None:
    path = tmp_path / f"readme_{block.line}.toml"
    path.write_text(block.text, encoding="utf-8")
    scenario = load_scenario(str(path))  # parses and validates, or raises with the one-line reason
    timeout = "2" if scenario.producers else HEADLESS_TIMEOUT  # producers keep going until --timeout
    result = run_shell(f"python -m tui --headless --scenario {path} --timeout {timeout}")
    assert result.returncode == 0, f"README.md:{block.line}: {result.stderr}"
    sent = [line for line in result.stdout.splitlines() if line.startswith("SENDING [")]
    if scenario.producers:
        assert len(sent) > len(scenario.publishes)
    else:
        assert len(sent) == len(scenario.publishes)


def test_toml_blocks_exist() -> None:
    assert TOML_BLOCKS, "the README no longer shows a scenario file"
    assert LESSON_BLOCKS, "the README no longer shows a lesson file"


@pytest.mark.parametrize("block", LESSON_BLOCKS, ids=[f"L{b.line}" for b in LESSON_BLOCKS])
def test_lesson_block_passes_the_checker(block: Block, tmp_path: Path) -> None:
    """Lesson blocks go through --check-lesson as written (every step's answer computed by the router)."""
    path = tmp_path / f"readme_{block.line}.toml"
    path.write_text(block.text, encoding="utf-8")
    assert load_lesson(str(path)).steps
    result = run_shell(f"python -m tui --check-lesson {path}")
    assert (result.returncode, result.stderr) == (0, ""), f"README.md:{block.line}: {result.stderr}"


# -- python blocks ---------------------------------------------------------------------------------
PYTHON_BLOCKS = [b for b in readme_blocks() if b.lang == "python"]


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"L{b.line}" for b in PYTHON_BLOCKS])
def test_python_block_is_a_test_that_passes_in_a_folder_of_its_own(block: Block, tmp_path: Path) -> None:
    folder = tmp_path / "teacher"
    folder.mkdir()
    (folder / f"test_readme_{block.line}.py").write_text(block.text, encoding="utf-8")
    result = run_pytest(folder, "-q")
    assert result.returncode == 0, f"README.md:{block.line}:\n{result.stdout}{result.stderr}"
    assert re.search(r"\b[1-9]\d* passed", result.stdout) and "skipped" not in result.stdout, result.stdout


def test_the_readme_shows_a_complete_pilot_test() -> None:
    assert any("async def test_" in b.text for b in PYTHON_BLOCKS), "the README lost its pilot test"
    assert all(len(b.text.strip().splitlines()) <= 10 for b in PYTHON_BLOCKS), "ten lines, as promised"


# -- text blocks and inline options ----------------------------------------------------------------
def test_every_option_the_readme_names_exists() -> None:
    """Options in the synopsis (text blocks starting `python -m tui`) and in `--inline` code spans."""
    named: set[str] = set()
    for block in readme_blocks():
        if block.lang == "text" and block.text.startswith("python -m tui"):
            named |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", block.text))
    named |= set(re.findall(r"`(--[a-z][a-z-]*)", README.read_text(encoding="utf-8")))
    assert named, "no options found: did the synopsis move?"
    known = set(re.findall(r"--[a-z][a-z-]*", build_parser().format_help()))
    assert named - known == set()
