"""Run pytest in a teacher's own folder, in a fresh process, as a teacher would: no conftest, no ini.

mqscope's plugin is found through its `pytest11` entry point. Where mqscope is installed with that
entry point (CI: `pip install -e .`), that installation is what runs. From a checkout installed before
the plugin existed, or not at all, the entry point is written from pyproject.toml into a throw-away
dist-info, exactly as pip would write it, so the test still goes through entry-point discovery.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 180.0  # bounds a hung run; nothing here is timed


def declared_entry_points() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return dict(project.get("entry-points", {}).get("pytest11", {}))


def _installed_has_plugin() -> bool:
    try:
        dist = importlib.metadata.distribution("mqscope")
    except importlib.metadata.PackageNotFoundError:
        return False
    wanted = declared_entry_points()
    have = {ep.name: ep.value for ep in dist.entry_points if ep.group == "pytest11"}
    return bool(wanted) and have == wanted


def _site_with_entry_point(where: Path) -> Path:
    site = where / "site"
    info = site / "mqscope-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mqscope\nVersion: 0.1.0\n", "utf-8")
    lines = ["[pytest11]", *(f"{name} = {value}" for name, value in declared_entry_points().items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", "utf-8")
    return site


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest ARGS` in `folder` with this interpreter and this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    if not _installed_has_plugin():
        paths.insert(0, str(_site_with_entry_point(folder.parent / f"{folder.name}-env")))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
