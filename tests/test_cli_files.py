"""The command line's file options on real `python -m tui` runs: --export writes to stdout and exits 0,
--scenario FILE.json reads RabbitMQ definitions (its notice one stderr line), --vhost and --exchange,
and bad input (bad JSON, a missing vhost, an unknown exchange) is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.definitions import parse_definitions
from core.scenario import load_scenario, parse_scenario
from core.scenario_files import open_scenario

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "tests" / "data" / "definitions_shop.json"


def mqscope(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_export_toml_to_stdout_loads_back() -> None:
    done = mqscope("--scenario", "dead_letter", "--export", "toml")
    assert (done.returncode, done.stderr) == (0, "")
    again = parse_scenario(done.stdout, "out.toml")
    original = load_scenario("dead_letter")
    assert (again.topology, again.publishes) == (original.topology, original.publishes)


def test_export_definitions_of_an_import_with_its_notice_on_stderr() -> None:
    done = mqscope("--scenario", str(SHOP), "--vhost", "staging", "--export", "definitions")
    assert done.returncode == 0
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"notice: {SHOP}: not used (6): 2 users;")
    data = json.loads(done.stdout)
    assert data["vhosts"] == [{"name": "staging"}]
    again = parse_definitions(done.stdout, "out.json", "staging")
    assert again.topology.queues == open_scenario(str(SHOP), vhost="staging").topology.queues


def test_export_kombu_is_a_python_program() -> None:
    done = mqscope("--export", "kombu")
    assert done.returncode == 0
    compile(done.stdout, "seed.py", "exec")
    assert "import core.broker" in done.stdout


def test_headless_on_definitions_publishes_to_the_first_exchange() -> None:
    done = mqscope("--headless", "--json", "--scenario", str(SHOP), "--publish", "order.created")
    assert done.returncode == 0, done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("notice: ")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    published = [e for e in events if e["event"] == "published"]
    assert [(e["exchange"], e["routing_key"]) for e in published] == [("shop.events", "order.created")]
    assert any(e["event"] == "acked" and e["queue"] == "orders.created" for e in events)


def test_exchange_picks_where_publish_goes_for_toml_too() -> None:
    done = mqscope(
        "--headless", "--json", "--no-script", "--scenario", "dead_letter",
        "--exchange", "orders.dlx", "--publish", "anything",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    routed = [e for e in events if e["event"] == "routed"]
    assert [e["queues"] for e in routed] == [["orders_dead"]]


def _one_line_exit_2(done: subprocess.CompletedProcess[str]) -> str:
    assert (done.returncode, done.stdout) == (2, "")
    (line,) = done.stderr.splitlines()
    return line


def test_unknown_exchange_is_one_line() -> None:
    line = _one_line_exit_2(mqscope("--headless", "--exchange", "nope", "--publish", "k"))
    assert line == "error: --exchange 'nope': no such exchange in the scenario (it has 'media_exchange')"


def test_bad_json_is_one_line_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"exchanges": [\n  {"name": "e", "type": "topic"\n]}\n')
    line = _one_line_exit_2(mqscope("--headless", "--scenario", str(path)))
    assert line == f"error: {path}: not valid JSON: Expecting ',' delimiter at line 3 column 1"


def test_missing_vhost_is_one_line() -> None:
    line = _one_line_exit_2(mqscope("--scenario", str(SHOP), "--vhost", "prod", "--export", "toml"))
    expected = f"{SHOP}: no vhost 'prod' in the file (it has '/', 'staging'); pick one with --vhost"
    assert line == f"error: {expected}"


def test_unknown_export_format_is_one_line() -> None:
    line = _one_line_exit_2(mqscope("--export", "yaml"))
    assert line.startswith("error: argument --export: invalid choice: 'yaml'")
