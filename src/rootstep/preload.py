"""Imports done in a background thread while the process waits for its client.

A server spends most of its first request importing (pydantic models, the ``mcp`` SDK, httpx2);
the client, meanwhile, is busy with its own start-up or its user. :func:`start` imports a list of
modules in a daemon thread (one such thread at a time, in request order). Code that needs one of
them waits for it first, so a module is never imported by two threads at once (concurrent imports
of modules that import each other could deadlock): :func:`ready` from the event loop, which keeps
serving meanwhile (an executor's handshake, other requests), :func:`wait` from plain code. Only
speed depends on this: a module nobody preloaded is imported as usual.
Standard library only: the start-up fast paths use it before anything else is loaded.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

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
# What every server loads before its first answer besides its own modules: anyio's asyncio
# backend (imported by ``anyio.run`` itself, with asyncio) and pydantic's plugin loader (imported,
# with importlib.metadata, when the first model is built).
RUNTIME_MODULES = ("anyio._backends._asyncio", "pydantic.plugin._loader")


class _Preloader:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: threading.Thread | None = None
        self._importing = threading.local()  # set in the preloading threads themselves
        # Each requested module, and whether its import has finished (or failed).
        self._done: dict[str, threading.Event] = {}
        self._later: list[str] = []  # to start once the request being answered is
        self._unfinished = 0  # requested imports not finished yet (0: every wait returns at once)
        self._watching: Any = None  # anyio.Event: set when the worker thread in ready() returns

    def start(self, modules: Iterable[str]) -> threading.Thread | None:
        """Import ``modules`` (in order) in a background thread, after the ones requested before;
        already requested ones are skipped. The thread (``join()`` it to wait for these only)."""
        if os.environ.get("ROOTSTEP_PRELOAD") == "0":  # measurements without it
            return None
        with self._lock:
            names = [m for m in modules if m not in self._done]
            if not names:
                return None
            previous = self._last
            thread = threading.Thread(target=self._run, args=(names, previous), name="rootstep-preload", daemon=True)
            self._last = thread
            for name in names:
                self._done[name] = threading.Event()
            self._unfinished += len(names)
        thread.start()
        return thread

    def start_later(self, modules: Iterable[str]) -> None:
        """:meth:`start` ``modules`` once the request being handled now is answered
        (:meth:`release`), or as soon as something waits for one of them: imports in the
        background share the interpreter with the request's own work, and would slow its answer
        down by as much as they take; after it, they use the time the client takes to send more."""
        with self._lock:
            self._later.extend(m for m in modules if m not in self._done and m not in self._later)

    def release(self) -> None:
        """A response went out: start what :meth:`start_later` kept back."""
        if not self._later:
            return
        with self._lock:
            names, self._later = self._later, []
        self.start(names)

    def _run(self, names: list[str], previous: threading.Thread | None) -> None:
        self._importing.active = True
        if previous is not None:  # one importing thread at a time
            previous.join()
        for name in names:
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - the caller imports it again and sees the error
                log.debug("preloading %s failed", name, exc_info=True)
            finally:
                with self._lock:
                    self._unfinished -= 1
                self._done[name].set()

    def _pending(self, modules: tuple[str, ...]) -> list[threading.Event]:
        """What to wait for: ``modules`` once each was requested, else every requested module
        (importing one nobody requested while the preloader imports is what must not happen)."""
        if not self._unfinished and not self._later:  # the warm path: nothing to look up
            return []
        if self._later and (not modules or any(m in self._later for m in modules)):
            self.release()  # needed now: no reason to keep it back any longer
        with self._lock:
            if modules and all(m in self._done for m in modules):
                events = [self._done[m] for m in modules]
            else:
                events = list(self._done.values())
        return [event for event in events if not event.is_set()]

    def wait(self, *modules: str) -> None:
        """Return once ``modules`` are imported; without names, or when one was never requested,
        once every requested module is. Blocks the calling thread."""
        if getattr(self._importing, "active", False):  # a preloaded module's own import
            return
        for event in self._pending(modules):
            event.wait()

    async def ready(self, *modules: str) -> None:
        """:meth:`wait` for async code: the event loop goes on serving while the imports finish.
        One worker thread waits for everyone (a burst of requests must not start a thread each);
        nothing is started once the imports are done."""
        while pending := self._pending(modules):
            watching = self._watching
            if watching is not None:  # another request's worker thread waits already
                await watching.wait()
                continue
            import anyio
            import anyio.to_thread

            watching = self._watching = anyio.Event()
            try:
                await anyio.to_thread.run_sync(_wait_all, pending)
            finally:
                self._watching = None
                watching.set()


def _wait_all(events: list[threading.Event]) -> None:
    for event in events:
        event.wait()


_PRELOADER = _Preloader()
start = _PRELOADER.start
start_later = _PRELOADER.start_later
release = _PRELOADER.release
wait = _PRELOADER.wait
ready = _PRELOADER.ready
