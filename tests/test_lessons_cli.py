"""The lesson command line: --lessons lists the course, --check-lesson names every problem of a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.lesson import LessonError, builtin_lesson_names, load_lesson, parse_lesson

ROOT = Path(__file__).resolve().parent.parent
COURSE = [
    "direct",
    "fanout",
    "topic_star",
    "topic_hash",
    "headers",
    "competing",
    "crash",
    "failures",
    "ttl_maxlen",
    "alternate",
    "tutorial_defects",
]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_the_course_is_in_order_and_short() -> None:
    assert builtin_lesson_names() == COURSE
    for name in COURSE:
        assert 3 <= len(load_lesson(name).steps) <= 6, name


def test_lessons_lists_one_a_line() -> None:
    result = run_cli("--lessons")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == COURSE
    for line, name in zip(lines, COURSE, strict=True):
        lesson = load_lesson(name)
        assert f"{len(lesson.steps)} steps" in line and line.endswith(lesson.title)


def test_check_lesson_passes_a_good_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[lesson]\ntitle = "t"\n[[steps]]\ntext = "x"\nscenario = "seed"\ntask = "predict"\nkey = "video"\n'
    )
    result = run_cli("--check-lesson", str(good))
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{good}: ok, 1 step\n", "")


BROKEN = """\
[lesson]
name = "broken"

[[steps]]
text = "no scenario on the first step"
task = "predict"
key = "a"

[[steps]]
text = "an unknown queue and a wrong example"
scenario = "seed"
task = "route"
reach = ["nope", "audit_queue"]
example = "video.upload"

[[steps]]
text = 3
task = "guess"

[[steps]]
text = "a change that cannot be made"
changes = [{ op = "delete", kind = "queue", name = "ghost" }]
task = "watch"
script = [{ say = "hi", crash = "nobody" }, { publish = "k" }]
"""


def test_check_lesson_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    result = run_cli("--check-lesson", str(path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    expected = [
        f"{path}: [lesson] title: missing",
        f"{path}: step 1: scenario: the first step needs a scenario",
        f"{path}: step 2: reach: unknown queue 'nope'",
        f"{path}: step 3: text: must be a string, not int",
        f"{path}: step 3: task: unknown task 'guess'",
        f"{path}: step 4: changes[1]: queue 'ghost': does not exist",
        f"{path}: step 4: script[1] crash: unknown consumer 'nobody'",
        f"{path}: step 4: script[2] say: missing",
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, lines)
    assert len(lines) == len(expected)


def test_a_wrong_example_is_caught_by_the_router(tmp_path: Path) -> None:
    text = BROKEN.split("[[steps]]")[2].replace('["nope", "audit_queue"]', '["audit_queue"]')
    with pytest.raises(LessonError) as caught:
        parse_lesson('[lesson]\ntitle = "t"\n[[steps]]' + text, "ex.toml")
    assert caught.value.problems == (
        "ex.toml: step 1: example: 'video.upload' reaches audit_queue, video_queue, not exactly audit_queue",
    )


def test_bad_toml_is_one_line_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[lesson]\ntitle = "t"\n[[steps]\n')
    result = run_cli("--check-lesson", str(path))
    assert result.returncode == 2
    expected = "line 3, column 8: not valid TOML: Expected ']]' at the end of an array declaration"
    assert result.stderr.splitlines() == [f"{path}: {expected}"]


def test_lesson_flag_refuses_what_is_not_a_lesson(tmp_path: Path) -> None:
    result = run_cli("--lesson", "no_such_lesson")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: no_such_lesson: no such lesson file or built-in lesson")
    assert len(result.stderr.splitlines()) == 1


def test_lesson_refuses_a_later_step_the_broker_cannot_run(tmp_path: Path) -> None:
    """memory:// has no headers exchange: step 2 is refused at start, not when the learner gets there."""
    path = tmp_path / "two.toml"
    path.write_text(
        '[lesson]\ntitle = "t"\n'
        '[[steps]]\ntext = "a"\nscenario = "seed"\ntask = "predict"\nkey = "video"\n'
        '[[steps]]\ntext = "b"\nscenario = "headers"\ntask = "predict"\nheaders = {}\n'
    )
    result = run_cli("--lesson", str(path), "--broker", "memory://")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {path}: step 2: kombu memory:// has no headers exchange")
