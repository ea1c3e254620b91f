"""Request processors. Each module exposes ``register(server)`` adding its methods.

Other layers add their module name to :data:`PROCESSOR_MODULES`; a module that fails to import
is logged and skipped so one broken extension never takes the server down.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rootstep.app_server.server import AppServer

log = logging.getLogger(__name__)

PROCESSOR_MODULES: list[str] = [
    "rootstep.app_server.processors.threads",
    "rootstep.app_server.processors.turns",
    "rootstep.app_server.processors.models",
    "rootstep.app_server.processors.mcp",
    "rootstep.app_server.processors.mcp_oauth",
    "rootstep.app_server.processors.environments",
    "rootstep.app_server.processors.selected_roots",
    "rootstep.app_server.processors.catalog",
    "rootstep.app_server.processors.account",
    "rootstep.app_server.processors.config_rpc",
    "rootstep.app_server.processors.catalog_lists",
    "rootstep.app_server.processors.goals",
    "rootstep.app_server.processors.thread_settings",
    "rootstep.app_server.processors.review",
    "rootstep.app_server.processors.disconnect",
]


def register_all(server: "AppServer") -> None:
    for name in PROCESSOR_MODULES:
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001
            log.exception("processor module %s failed to import; its methods are unavailable", name)
            continue
        module.register(server)
