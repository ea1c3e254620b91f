"""Imports done in a background thread while the process waits for its client.

A server spends most of its first request importing (pydantic models, the ``mcp`` SDK, httpx2);
the client, meanwhile, is busy with its own start-up or its user. :func:`start` imports a list of
modules in a daemon thread; code that needs one of them calls :func:`wait` first, so a module is
never imported by two threads at once (concurrent imports of modules that import each other
could deadlock). Only speed depends on this: a module nobody preloaded is imported as usual.
Standard library only: the start-up fast paths use it before anything else is loaded.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

# The modules the first step with an MCP server needs (the SDK among them), and the first model
# request (httpx2).
MCP_MODULES = (
    "rootstep.mcp.server_pool",
    "rootstep.mcp.runtime",
    "rootstep.mcp.step_tools",
    "rootstep.mcp.transports.factory",
    "rootstep.mcp.elicitation",
    "rootstep.mcp.status",
)
MODEL_MODULES = ("rootstep.model.client",)


class _Preloader:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._requested: dict[str, threading.Thread] = {}

    def start(self, modules: Iterable[str]) -> threading.Thread | None:
        """Import ``modules`` (in order) in a background thread, after the ones requested before;
        already requested ones are skipped. The thread (``join()`` it to wait for these only)."""
        if os.environ.get("ROOTSTEP_PRELOAD") == "0":  # measurements without it
            return None
        with self._lock:
            names = [m for m in modules if m not in self._requested]
            if not names:
                return None
            previous = list(self._threads)
            thread = threading.Thread(target=self._run, args=(names, previous), name="rootstep-preload", daemon=True)
            self._threads.append(thread)
            self._requested.update(dict.fromkeys(names, thread))
        thread.start()
        return thread

    @staticmethod
    def _run(names: list[str], previous: list[threading.Thread]) -> None:
        for earlier in previous:  # one importing thread at a time
            earlier.join()
        for name in names:
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - the caller imports it again and sees the error
                log.debug("preloading %s failed", name, exc_info=True)

    def wait(self, *modules: str) -> None:
        """Return once ``modules`` are imported (each thread imports after the ones before it);
        without names, or when one was never requested, once every requested module is."""
        with self._lock:
            owners = [self._requested.get(m) for m in modules]
            threads = list(self._threads) if not modules or None in owners else [t for t in owners if t is not None]
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join()


_PRELOADER = _Preloader()
start = _PRELOADER.start
wait = _PRELOADER.wait
