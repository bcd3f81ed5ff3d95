"""`mqscope://` works in any kombu program of the environment, with no import of mqscope's.

Each check runs a fresh interpreter: the wheel's `mqscope_kombu.pth` processed by `site` the way
start-up processes site-packages, then mqscope really installed (wheel and editable) into a new
virtualenv; a plain kombu program then opens `mqscope://`.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLAIN_PROGRAM = """
import sys
from kombu import Connection, Exchange, Queue

with Connection("mqscope://") as conn:
    queue = Queue("q", Exchange("x", type="topic"), routing_key="a.#")
    with conn.Producer() as producer:
        producer.publish({"hi": 1}, exchange=queue.exchange, routing_key="a", declare=[queue])
    message = conn.SimpleQueue(queue).get(timeout=1)
    message.ack()
    print(message.payload["hi"], message.delivery_info["routing_key"])
"""


def run(code: str, site_dir: Path | None) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter whose site processed `site_dir` (its .pth files) at start-up.

    `-S` and plain path entries keep the environment's own .pth files out (an install of mqscope
    puts this very .pth there), so only `site_dir` decides whether the scheme is known.
    """
    start = f"import site, sys; sys.path.extend({site.getsitepackages()!r})\n"
    if site_dir is not None:
        start += f"site.addsitedir({str(site_dir)!r})\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-S", "-c", start + code], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """A site-packages directory holding what the wheel puts at its root for the scheme."""
    for name in ("mqscope_kombu.pth", "_mqscope_kombu.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    return tmp_path


def test_without_the_pth_file_kombu_does_not_know_the_scheme() -> None:
    result = run(PLAIN_PROGRAM, None)
    assert "No such transport: mqscope" in result.stderr


def test_a_plain_kombu_program_uses_mqscope_urls_with_no_import(site_dir: Path) -> None:
    result = run(PLAIN_PROGRAM, site_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "a"]


def test_start_up_imports_neither_kombu_nor_mqscope(site_dir: Path) -> None:
    """Every interpreter in the environment runs the .pth line: it must cost nothing."""
    result = run("import sys; print(sorted(m for m in ('kombu', 'core') if m in sys.modules))", site_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_kombu_imported_before_the_module_is_registered_at_once(site_dir: Path) -> None:
    code = (
        f"import kombu.transport, sys; sys.path.insert(0, {str(site_dir)!r}); import _mqscope_kombu\n"
        "print(kombu.transport.TRANSPORT_ALIASES['mqscope'])"
    )
    result = run(code, None)
    assert result.stdout.strip() == "core.broker.transport:Transport", result.stderr


def test_the_wheel_and_editable_wheels_ship_both_files() -> None:
    """hatchling's force-include (wheel and editable builds alike) names both files."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    forced = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert forced == {"_mqscope_kombu.py": "_mqscope_kombu.py", "mqscope_kombu.pth": "mqscope_kombu.pth"}
    assert (ROOT / "mqscope_kombu.pth").read_text().strip() == "import _mqscope_kombu"


@pytest.mark.parametrize("how", ["wheel", "editable"])
def test_an_installed_mqscope_gives_every_interpreter_the_scheme(tmp_path: Path, how: str) -> None:
    """The real thing: mqscope pip-installed (as a wheel, or editable) into a fresh virtualenv, then a
    plain kombu program run there by a fresh interpreter, with no PYTHONPATH. Its dependencies come
    from this environment (a path line), so only mqscope is installed. pip fetches hatchling for the
    build: skipped where no package index is reachable."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    paths = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    here = subprocess.run([sys.executable, "-c", paths], capture_output=True, text=True, check=True)
    there = subprocess.run([str(python), "-c", paths], capture_output=True, text=True, check=True)
    (Path(there.stdout.strip()) / "zz_dependencies.pth").write_text(here.stdout.strip() + "\n")
    target = ["-e", str(ROOT)] if how == "editable" else [str(ROOT)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", *target],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    if installed.returncode != 0:
        pytest.skip(f"cannot install here: {installed.stderr.strip().splitlines()[-1:]}")
    program = tmp_path / "plain.py"
    program.write_text(PLAIN_PROGRAM)
    result = subprocess.run(
        [str(python), str(program)], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "a"]
