"""Import the ``mcp`` SDK's client side without its server side.

The SDK's ``mcp/__init__.py`` re-exports the whole SDK, and ``mcp/client/__init__.py`` imports
the in-memory ``Client``, which imports the server (starlette, uvicorn, sse-starlette). rootstep
only imports client modules by their full names (``mcp.client.session``, ``mcp.client.stdio``,
``mcp.shared.*``), which need neither ``__init__``. :func:`defer_package_inits` registers those
two packages so that their ``__init__`` runs only when one of the names it defines is asked for
(``from mcp import ClientSession``, ``mcp.Client``): nothing changes for code that uses them,
and a process that never does skips about a third of the SDK's import time.

Standard library only; call it before anything imports ``mcp`` (the app-server does, at start).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types

SDK_PACKAGES = ("mcp", "mcp.client")

_LOCK = threading.RLock()


class _DeferredPackage(types.ModuleType):
    """A package module whose ``__init__`` has not run yet: it runs at the first attribute
    lookup that fails (submodules, once imported, are plain attributes and do not count)."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") and name != "__all__":  # probes by import machinery and tools
            raise AttributeError(name)
        with _LOCK:
            if type(self) is _DeferredPackage:
                self.__class__ = types.ModuleType  # type: ignore[assignment]  # from now on, a plain module
                spec = self.__spec__
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(self)
        return getattr(self, name)


def defer_package_inits(names: tuple[str, ...] = SDK_PACKAGES) -> None:
    """Register ``names`` (parents first) as packages whose ``__init__`` waits for first use.
    A package already imported, or not installed, is left as it is (and so are those after it)."""
    for name in names:
        if name in sys.modules:
            return
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _DeferredPackage
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


def deferred(name: str) -> bool:
    """Is ``name`` registered and its ``__init__`` not run yet? (For tests and diagnostics.)"""
    return type(sys.modules.get(name)) is _DeferredPackage
