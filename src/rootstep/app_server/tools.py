"""Which :class:`StepToolsProvider` threads get.

The MCP runtime plugs in here: it sets :data:`TOOLS_FACTORY_HOOK` to a callable
``(config) -> StepToolsProviderFactory`` (e.g. from its own module's import). Until then every
thread gets the empty provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rootstep.core.step_tools import StepToolsProviderFactory, empty_provider_factory

log = logging.getLogger(__name__)

# "module:function" of a factory builder, resolved lazily; others set this (additively).
TOOLS_FACTORY_PATH: str | None = None
TOOLS_FACTORY_HOOK: Callable[[Any], StepToolsProviderFactory] | None = None


def tools_factory(config: Any) -> StepToolsProviderFactory:
    hook = TOOLS_FACTORY_HOOK
    if hook is None and TOOLS_FACTORY_PATH:
        import importlib

        module, _, name = TOOLS_FACTORY_PATH.partition(":")
        try:
            hook = getattr(importlib.import_module(module), name)
        except Exception:  # noqa: BLE001
            log.exception("tools factory %s unavailable; threads get no tools", TOOLS_FACTORY_PATH)
            hook = None
    if hook is None:
        return empty_provider_factory
    return hook(config)
