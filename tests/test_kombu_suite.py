"""kombu's own integration test classes (`t/integration/common.py` of kombu's source distribution,
the version installed) run against mqscope://, as kombu runs them against RabbitMQ.

kombu's code stays kombu's: its sdist is fetched at test time with pip into a cache directory
(MQSCOPE_KOMBU_SDIST_CACHE, default ~/.cache/mqscope/kombu-sdist) and common.py is loaded from
there. Offline, the module skips with the reason; under CI=true it must run, so it fails instead.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import kombu
import pytest

import core.backends  # registers mqscope://

assert core.backends.DEFAULT_BROKER_URL
VERSION = kombu.__version__
MEMBER = f"kombu-{VERSION}/t/integration/common.py"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"kombu's integration suite must run in CI, but: {reason}", pytrace=False)
    pytest.skip(f"kombu's integration suite unavailable: {reason}", allow_module_level=True)


def _cache() -> Path:
    default = Path.home() / ".cache" / "mqscope" / "kombu-sdist"
    return Path(os.environ.get("MQSCOPE_KOMBU_SDIST_CACHE", default))


def _common_source() -> Path | None:
    """kombu's common.py for the installed version, fetched and unpacked once into the cache."""
    cache = _cache()
    target = cache / f"kombu-{VERSION}-common.py"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"kombu-{VERSION}.tar.gz"
    if not sdist.exists():
        command = [sys.executable, "-m", "pip", "download", f"kombu=={VERSION}", "--no-binary", ":all:"]
        command += ["--no-deps", "--quiet", "--disable-pip-version-check", "-d", str(cache)]
        try:
            fetched = subprocess.run(command, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            _unavailable(f"pip download kombu=={VERSION} timed out")
            return None
        if fetched.returncode != 0 or not sdist.exists():
            detail = " ".join((fetched.stderr or fetched.stdout).split())[-300:]
            _unavailable(f"pip download kombu=={VERSION} --no-binary :all: failed: {detail}")
            return None
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            _unavailable(f"{sdist.name} has no {MEMBER}")
            return None
        partial = target.with_suffix(".partial")
        partial.write_bytes(member.read())
        partial.replace(target)
    return target


def _load() -> ModuleType:
    source = _common_source()
    assert source is not None
    spec = importlib.util.spec_from_file_location("kombu_integration_common", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load()


@pytest.fixture()
def connection() -> Iterator[kombu.Connection]:
    """A broker of its own per test (mqscope://NAME), as kombu's suite gets a fresh vhost."""
    yield kombu.Connection(f"mqscope://kombu{uuid.uuid4().hex[:10]}")


@pytest.fixture()
def invalid_connection() -> kombu.Connection:
    """mqscope:// is in-process and cannot be unreachable: kombu's failed-connect tests use kombu's
    own unreachable broker (pyamqp on a loopback port where nothing listens), as its suite does."""
    return kombu.Connection("pyamqp://127.0.0.1:1")


class TestBasicFunctionality(common.BasicFunctionality):  # type: ignore[misc,name-defined]
    pass


class TestExchangeTypes(common.BaseExchangeTypes):  # type: ignore[misc,name-defined]
    pass


class TestTimeToLive(common.BaseTimeToLive):  # type: ignore[misc,name-defined]
    pass


class TestPriority(common.BasePriority):  # type: ignore[misc,name-defined]
    pass


class TestMessage(common.BaseMessage):  # type: ignore[misc,name-defined]
    pass


class TestEventLoop(common.BaseEventLoop):  # type: ignore[misc,name-defined]
    pass
