"""The seam through which tools (MCP servers, connectors) reach a turn, one model step at a time.

The turn loop knows nothing about MCP. Before every model request it asks the thread's
:class:`StepToolsProvider` for a :class:`StepTools` snapshot, sends ``model_tools()`` with the
request, routes each ``function_call`` the snapshot ``handles()`` to ``execute()`` (several may
run concurrently), sends the outputs back as ``function_call_output`` in the next request and
``aclose()``s the snapshot. A newer snapshot never disturbs a step that holds an older one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel


@dataclass(frozen=True)
class FunctionCall:
    """A ``function_call`` output item of the model; ``namespace`` is non-standard but kept."""

    call_id: str
    name: str
    namespace: str | None
    arguments: str


@runtime_checkable
class ItemSink(Protocol):
    """Emits ``item/started`` / ``item/completed`` for the running turn (and records history)."""

    async def started(self, item: BaseModel) -> None: ...

    async def completed(self, item: BaseModel) -> None: ...


@runtime_checkable
class StepTools(Protocol):
    """One model step's captured tool snapshot."""

    def model_tools(self) -> list[dict[str, Any]]:
        """Entries of the Responses ``tools`` array."""
        ...

    def handles(self, call: FunctionCall) -> bool: ...

    async def execute(
        self, call: FunctionCall, sink: ItemSink, *, thread_id: str, turn_id: str
    ) -> str | list[dict[str, Any]]:
        """Run the call; the return value becomes ``function_call_output.output``."""
        ...

    async def aclose(self) -> None:
        """The step is done with the snapshot."""
        ...


@runtime_checkable
class StepToolsProvider(Protocol):
    """One per thread; ``capture_step()`` is called at EVERY model step."""

    async def capture_step(self) -> StepTools: ...

    async def aclose(self) -> None: ...


class NoStepTools:
    """A step with no tools: every call is unsupported."""

    def model_tools(self) -> list[dict[str, Any]]:
        return []

    def handles(self, call: FunctionCall) -> bool:
        return False

    async def execute(
        self, call: FunctionCall, sink: ItemSink, *, thread_id: str, turn_id: str
    ) -> str | list[dict[str, Any]]:
        return unsupported_call_output(call)

    async def aclose(self) -> None:
        return None


class EmptyStepToolsProvider:
    """The default provider: threads without tools."""

    async def capture_step(self) -> StepTools:
        return NoStepTools()

    async def aclose(self) -> None:
        return None


def unsupported_call_output(call: FunctionCall) -> str:
    """The output sent back for a call nothing handles: namespace and name concatenated, as
    codex 0.169 answers (``unsupported call: mcp__nowheremystery``)."""
    return f"unsupported call: {call.namespace or ''}{call.name}"


@dataclass(frozen=True)
class ThreadToolsContext:
    """What a provider factory learns about the thread it serves."""

    thread_id: str
    cwd: str
    selected_capability_roots: tuple[Any, ...] = ()
    # Opaque per-thread data other layers may need (e.g. environments selection).
    extra: Any = None


class StepToolsProviderFactory(Protocol):
    """Held by the app-server; builds each thread's provider (default: empty)."""

    def __call__(self, context: ThreadToolsContext) -> StepToolsProvider: ...


def empty_provider_factory(context: ThreadToolsContext) -> StepToolsProvider:
    return EmptyStepToolsProvider()
