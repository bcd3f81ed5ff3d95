"""Makes `mqscope://` a kombu URL in every interpreter of an environment mqscope is installed in.

kombu resolves a URL's scheme through `kombu.transport.TRANSPORT_ALIASES` and has no entry-point
group for transports (5.7 loads entry points for serializers and matchers only). So the wheel ships
`mqscope_kombu.pth`, whose one line imports this module at start-up; it adds the alias the moment
kombu's transport table is first imported, so a kombu program needs no `import core.broker`.

Importing kombu here would cost every Python process in the environment ~0.1 s (and import
mqscope's `core` package into programs that have their own), so nothing is imported until a program
imports `kombu.transport` itself: a meta-path finder wraps that one module's loader, then removes
itself. The transport class loads only when a program opens an `mqscope://` connection.

PYTEST_DONT_REWRITE: start-up imports this module before pytest can (it ships beside the pytest
plugin, so pytest would otherwise warn in every run of an environment with mqscope installed).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

SCHEME = "mqscope"
TRANSPORT = "core.broker.transport:Transport"
TARGET = "kombu.transport"


def register(module: ModuleType) -> None:
    """Add the alias to kombu's table (a program's own `mqscope` alias wins)."""
    module.TRANSPORT_ALIASES.setdefault(SCHEME, TRANSPORT)


class _Loader(importlib.abc.Loader):
    """kombu.transport's own loader, then the alias."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return None if create is None else create(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        register(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when kombu.transport is imported, wraps the real spec's loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        _uninstall()
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


_FINDER = _Finder()


def _uninstall() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


def install() -> None:
    """Register now if kombu's table is loaded already, else when it is first imported."""
    loaded = sys.modules.get(TARGET)
    if loaded is not None:
        register(loaded)
    elif _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


install()
