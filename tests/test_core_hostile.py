"""Hostile names, bodies and arguments (issue #10 items 2, 4, 7): every bad file or argument is one
line and exit 2, control characters never reach the terminal raw, and stderr lines stay short.

The fuzz tests run tui.cli.main in this process (fast); a few cases go through a real process,
because only there do undecodable argv bytes arrive as Python sees them (surrogateescape).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from broker_support import fresh_url
from core.text import MAX_LINE, bounded, json_line, visible
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""What must never reach a terminal raw: C0 (but the newline ending each line), DEL, C1, surrogates."""
EXITS = {0, 2, 3}

BASE = """\
[[exchanges]]
name = "e"
type = "topic"

[[queues]]
name = "q"
bindings = [{ exchange = "e", routing_key = "#" }]

[[consumers]]
name = "w"
queues = ["q"]

[[publish]]
exchange = "e"
routing_key = "k"
"""

# (table header to add the field under, field): every numeric, name and table field of a scenario
FIELDS = [
    ("[[exchanges]]\ntype = \"fanout\"", "name"),
    ("[[exchanges]]\nname = \"e2\"", "alternate_exchange"),
    ("[[queues]]\nname = \"q2\"", "message_ttl"),
    ("[[queues]]\nname = \"q2\"", "max_length"),
    ("[[queues]]\nname = \"q2\"", "dead_letter_routing_key"),
    ("[[queues]]", "name"),
    ("[[queues]]\nname = \"q2\"", "bindings"),
    ("[[consumers]]\nqueues = [\"q\"]", "name"),
    ("[[consumers]]\nname = \"w2\"\nqueues = [\"q\"]", "prefetch"),
    ("[[consumers]]\nname = \"w2\"\nqueues = [\"q\"]", "work_seconds"),
    ("[[consumers]]\nname = \"w2\"", "queues"),
    ("[[publish]]\nexchange = \"e\"", "after"),
    ("[[publish]]\nexchange = \"e\"", "expiration"),
    ("[[publish]]\nexchange = \"e\"", "headers"),
    ("[[publish]]\nexchange = \"e\"", "body"),
    ("[[publish]]\nexchange = \"e\"", "routing_key"),
    ("[[publish]]", "exchange"),
]


def nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return "{ a = " * depth + "1" + " }" * depth


def toml_string(text: str) -> str:
    """A TOML basic string (JSON escapes are TOML escapes, except surrogates: TOML refuses those)."""
    return json.dumps(text)


toml_values = st.one_of(
    st.sampled_from(
        [
            "1e400", "-1e400", "nan", "inf", "-inf", "+inf", "-nan", "65535", "65536", "-1", "0", "0.001",
            "9223372036854775807", "-9223372036854775808", "4294967.295", "4294967.296", "86400", "86401",
            "1.5", "true", "1979-05-27T07:32:00Z", "07:32:00", "[]", "{}", '"x"', '""',
            '"q\\u001b]0;PWN\\u0007"', '"a\\u009bb"', '"e\\nx"', '"\\u202eevil"', '"amq.x"',
            '{ f = nan }', '{ f = inf }', '{ d = 1979-05-27T07:32:00Z }', '{ big = 9223372036854775807 }',
            '[{ exchange = "e", routing_key = "#", arguments = { "x-match" = nan } }]',
            '[{ exchange = "e\\u001b" }]', '["q", 1]',
        ]
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=300).map(toml_string),
    st.text(min_size=250, max_size=300).map(toml_string),
    st.builds(nested, st.integers(1, 1200), st.sampled_from(["array", "table"])),
)


def check_outcome(code: int, out: str, err: str) -> None:
    event(f"exit {code}")  # --hypothesis-show-statistics: how many runs ran, how many were refused
    assert code in EXITS, (code, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) <= 1, err
    for line in lines:
        assert len(line) <= MAX_LINE, line
        assert line.startswith(("error: ", "timeout after ")), line
    assert (code == 2) == bool(lines and lines[0].startswith("error: ")), (code, err)
    assert not RAW_CONTROL.search(out), [m.group() for m in RAW_CONTROL.finditer(out)][:5]
    assert not RAW_CONTROL.search(err), err


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors (one line, exit 2)
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


FUZZ = settings(
    max_examples=int(os.environ.get("MQSCOPE_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(where=st.sampled_from(FIELDS), value=toml_values, as_json=st.booleans())
def test_any_scenario_file_is_run_or_refused_in_one_line(
    where: tuple[str, str], value: str, as_json: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, name = where
    path = tmp_path / "s.toml"
    path.write_text(f"{BASE}\n{header}\n{name} = {value}\n", encoding="utf-8")
    argv = ["--headless", "--scenario", str(path), "--broker", fresh_url(), "--timeout", "0.3"]
    code, out, err = run_cli(argv + (["--json"] if as_json else []), capsys)
    check_outcome(code, out, err)
    if code == 2:
        assert str(path) in err  # the file is named
    if as_json:
        for line in out.splitlines():
            json.loads(line)  # still valid JSON, control characters escaped


hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["a\x1b]0;PWN\x07", "a\x9bb", "x" * 300, "é" * 200, "\u202e", "", "a.b.#"]),
)
numbers = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e400", "0", "-1", "x", "", "1e-300", "0.3", "100000000"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 5).map(str),
    st.integers(1_000_001, 10**30).map(str),
)
bodies = st.one_of(
    st.sampled_from(["NaN", "Infinity", '{"a": NaN}', "[" * 2000 + "]" * 2000, "{", "null", '"\\u001b"']),
    st.builds(lambda d: "[" * d + "]" * d, st.integers(1, 100_000)),
    st.text(max_size=40),
)


@FUZZ
@given(
    keys=st.lists(hostile_text, max_size=3),
    body=st.none() | st.just('{"ok": 1}') | bodies,
    repeat=st.none() | st.integers(1, 3).map(str) | numbers,
    timeout=numbers,
    speed=st.none() | st.sampled_from(["0.25", "4"]) | numbers,
    as_json=st.booleans(),
)
def test_any_arguments_are_run_or_refused_in_one_line(
    keys: list[str],
    body: str | None,
    repeat: str | None,
    timeout: str,
    speed: str | None,
    as_json: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--headless", "--no-script", "--broker", fresh_url()]
    for key in keys:
        argv += ["--publish", key]
    for flag, value in (("--body", body), ("--repeat", repeat), ("--speed", speed)):
        if value is not None:
            argv += [f"{flag}={value}"]
    # a timeout that would run is kept short: the fuzz is about what gets refused, not how long it waits
    argv += [f"--timeout={timeout}"] if timeout in ("nan", "inf", "-inf", "1e400", "0", "-1", "x", "") else [
        "--timeout=0.3"
    ]
    code, out, err = run_cli(argv + (["--json"] if as_json else []), capsys)
    check_outcome(code, out, err)


@pytest.mark.parametrize(
    "args",
    [
        [b"--publish", b"a\xff"],
        [b"--publish", b"k", b"--body", b'"\xff\xfe"'],
        [b"--publish", b"\xc3"],
    ],
)
def test_undecodable_argv_bytes_are_one_line(args: list[bytes]) -> None:
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"tui", b"--headless", b"--no-script", b"--timeout", b"5", *args],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    err = result.stderr.decode("utf-8")
    assert result.returncode == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "UTF-8" in err, err


def test_a_queue_name_cannot_retitle_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "q\\u001b]0;PWNED\\u0007"
    path = tmp_path / "pwn.toml"
    path.write_text(
        BASE.replace('name = "q"', f'name = "{hostile}"').replace('["q"]', f'["{hostile}"]'),
        encoding="utf-8",
    )
    code, out, err = run_cli(["--headless", "--scenario", str(path), "--broker", fresh_url()], capsys)
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert "-> q\\x1b]0;PWNED\\x07" in out  # shown, escaped, where the name belongs
    argv = ["--headless", "--json", "--scenario", str(path), "--broker", fresh_url()]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert "\x1b" not in out and "\\u001b" in out
    routed = [json.loads(line) for line in out.splitlines() if '"routed"' in line]
    assert routed[0]["queues"] == ["q\x1b]0;PWNED\x07"]  # the JSON value is the name itself


def test_json_escapes_c1_controls_and_stays_valid() -> None:
    value = {"k": "a\x9b31m\x85\u2028\ud8ff\x1b é"}
    line = json_line(value)
    assert not RAW_CONTROL.search(line) and "\u2028" not in line
    assert "é" in line  # non-ASCII text stays readable
    assert json.loads(line) == value


def test_visible_escapes_only_what_a_terminal_would_act_on() -> None:
    assert visible("a\x1b]0;x\x07b") == "a\\x1b]0;x\\x07b"
    assert visible("\x9b\u202e\udcff") == "\\x9b\\u202e\\udcff"
    assert visible("plain é ünïcödé → ok") == "plain é ünïcödé → ok"
    assert bounded("x" * 500) == "x" * (MAX_LINE - 1) + "…"


def test_a_timeout_with_ten_thousand_open_messages_is_one_short_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sink.toml"  # no consumers: every message stays open
    path.write_text(BASE.split("[[consumers]]")[0], encoding="utf-8")
    key = "k" * 255
    argv = ["--headless", "--no-script", "--scenario", str(path), "--broker", fresh_url()]
    code, _out, err = run_cli([*argv, "--publish", key, "--repeat", "10000", "--timeout", "1"], capsys)
    assert code == 3, err
    lines = err.splitlines()
    assert len(lines) == 1 and len(lines[0]) <= MAX_LINE, lines
    assert re.search(r"and \d+ more", lines[0]), lines[0]


W2 = '[[consumers]]\nname = "w2"\nqueues = ["q"]'


@pytest.mark.parametrize(
    ("header", "line", "says"),
    [
        (W2, "work_seconds = 1e400", "consumers[2] ('w2'): work_seconds"),
        (W2, "prefetch = 65536", "consumers[2] ('w2'): prefetch"),
        ("[[publish]]\nexchange = \"e\"", "after = inf", "publish[2]: after"),
        ("[[publish]]\nexchange = \"e\"", "after = nan", "publish[2]: after"),
        ("[[publish]]\nexchange = \"e\"", "expiration = 1e400", "publish[2]: expiration"),
        ("[[publish]]\nexchange = \"e\"", "expiration = 4294967.296", "publish[2]: expiration"),
        ("[[publish]]\nexchange = \"e\"", "headers = { f = nan }", "publish[2]: headers.f"),
        ("[[publish]]\nexchange = \"e\"", "headers = { d = 1979-05-27T07:32:00Z }", "publish[2]: headers.d"),
        ("[[publish]]\nexchange = \"e\"", "body = " + nested(40, "array"), "publish[2]: body"),
        ("[[queues]]\nname = \"q2\"", "message_ttl = 1e400", "queues[2] ('q2'): message_ttl"),
        ("[[queues]]\nname = \"q2\"", "max_length = -1", "queues[2] ('q2'): max_length"),
        ("[[exchanges]]", 'name = "e\\nx"', "exchange 'e\\x0ax'"),
        ("[[queues]]\nname = \"q2\"", "x = " + nested(1000, "table"), "nested too deep"),
    ],
)
def test_each_bad_value_names_file_entry_and_field(
    header: str, line: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"{BASE}\n{header}\n{line}\n", encoding="utf-8")
    code, out, err = run_cli(["--headless", "--scenario", str(path), "--broker", fresh_url()], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {path}: ") and err.count("error:") == 1, err
    assert says in err, err
