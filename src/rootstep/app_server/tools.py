"""Which :class:`StepToolsProvider` threads get.

The MCP runtime plugs in here without touching the turn loop: set :data:`TOOLS_FACTORY_PATH`
to ``"module:function"`` (or :data:`TOOLS_FACTORY_HOOK` to the function). The function gets
the :class:`~rootstep.app_server.server.AppServer` — its ``config``, ``emit`` (notification
models with a ``METHOD``), ``notify``, ``connections`` (for server→client requests),
``services`` and ``manager`` — and returns a factory
``(ThreadToolsContext) -> StepToolsProvider`` called once per thread (start, resume, fork).
Until then every thread gets the empty provider. The environment variable
``ROOTSTEP_TOOLS_FACTORY=module:function`` overrides both (tests, embedding).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rootstep.tools import StepToolsProviderFactory, empty_provider_factory

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer

log = logging.getLogger(__name__)

TOOLS_FACTORY_PATH: str | None = None
TOOLS_FACTORY_HOOK: Callable[[Any], StepToolsProviderFactory] | None = None


def tools_factory(server: "AppServer") -> StepToolsProviderFactory:
    import os

    hook = TOOLS_FACTORY_HOOK
    # ROOTSTEP_TOOLS_FACTORY=module:function overrides the built-in choice (tests, embedding).
    path = os.environ.get("ROOTSTEP_TOOLS_FACTORY") or TOOLS_FACTORY_PATH
    if (hook is None or os.environ.get("ROOTSTEP_TOOLS_FACTORY")) and path:
        import importlib

        module, _, name = path.partition(":")
        try:
            hook = getattr(importlib.import_module(module), name)
        except Exception:  # noqa: BLE001 - no tools is better than no server
            log.exception("tools factory %s unavailable; threads get no tools", path)
            hook = None
    if hook is None:
        return empty_provider_factory
    return hook(server)


def install_tools(server: "AppServer") -> None:
    """Give the server's thread manager the configured factory."""
    server.manager.tools_factory = tools_factory(server)
