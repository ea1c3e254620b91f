"""The seam between a turn and whatever answers its tool calls.

A thread's tools come from *sources* (:class:`ToolSource`): the agent's own tools (commands,
patches, plans), its MCP servers (config.toml's and its selected roots' plugins, connectors).
One :class:`ThreadTools` per thread routes them: before every model request the turn loop calls
:meth:`ThreadTools.capture_step`, which captures one snapshot (:class:`StepTools`) of each source,
in order. The step's request offers every snapshot's ``model_tools()`` and the history gets their
``context_items()``; each ``function_call`` goes to the first snapshot that ``handles()`` it and
is ``execute()``d with a :class:`CallContext` (several may run concurrently); the outputs go back
as ``function_call_output`` in the next request, and the snapshots are ``aclose()``d. A newer
snapshot never disturbs a step that holds an older one.

A source may also follow the turn (:class:`TurnHooks`): :meth:`ThreadTools.turn_started` asks
for the items that go into the history *before* the turn's input (what changed in the context
the model should know: permissions, environment, project instructions), and
:meth:`ThreadTools.turn_ended` says how it ended (an interrupted turn's processes are stopped). A
snapshot may want to know that its step finished normally (:class:`StepFinished`: the response
completed and every call returned), e.g. to report the turn's diff so far.

Nothing here knows MCP or processes: this module is the low-level contract the turn loop
(``rootstep.core``) and the sources (``rootstep.extensions``, ``rootstep.agent_tools``) share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import anyio

if TYPE_CHECKING:
    from pydantic import BaseModel

    from rootstep.agent_tools.goals import GoalStore
    from rootstep.config.config import Config
    from rootstep.protocol.capabilities import SelectedCapabilityRoot
    from rootstep.protocol.notifications import NotificationModel
    from rootstep.protocol.thread import EnvironmentSelection

# ``function_call_output.output``: text, or a list of content items (text, images).
FunctionOutput = str | list[dict[str, Any]]


@dataclass(frozen=True)
class FunctionCall:
    """A tool call of the model: a ``function_call`` (``namespace`` is non-standard but kept),
    or with ``custom`` a freeform ``custom_tool_call`` whose raw input is ``arguments``."""

    call_id: str
    name: str
    namespace: str | None
    arguments: str
    custom: bool = False


@runtime_checkable
class ItemSink(Protocol):
    """``item/started`` / ``item/completed`` for the running turn (and its history)."""

    async def started(self, item: BaseModel) -> None: ...

    async def completed(self, item: BaseModel) -> None: ...


# A notification of the running turn that is not an item (output deltas, plan, diff): a model
# with a ``METHOD``.
Notify = Callable[["NotificationModel"], Awaitable[None]]


@dataclass(frozen=True)
class CallContext:
    """What one call may do besides returning its output."""

    thread_id: str
    turn_id: str
    items: ItemSink
    notify: Notify
    # Ends the turn as interrupted at once (a client's ``cancel`` answer): the step's calls get
    # the aborted output, whatever they return.
    interrupt: Callable[[], None]


@runtime_checkable
class StepTools(Protocol):
    """One source's tools for one model step."""

    def model_tools(self) -> list[dict[str, Any]]:
        """Entries of the Responses ``tools`` array."""
        ...

    def context_items(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items to add to the history before this step's request (guidance, skills)."""
        ...

    def handles(self, call: FunctionCall) -> bool: ...

    async def execute(self, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        """Run the call; the return value becomes ``function_call_output.output``."""
        ...

    async def aclose(self) -> None:
        """The step is done with the snapshot."""
        ...


@runtime_checkable
class StepFinished(Protocol):
    """Optional for a :class:`StepTools`: the step's response completed and its calls returned
    (not called for a step that was interrupted or failed)."""

    async def step_finished(self) -> None: ...


@runtime_checkable
class ToolSource(Protocol):
    """One kind of tools of one thread; :meth:`capture` is called at EVERY model step."""

    async def capture(self) -> StepTools: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TurnHooks(Protocol):
    """Optional for a :class:`ToolSource`: told when each turn starts and ends."""

    async def turn_started(self, turn_id: str, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items for the history before the turn's input (e.g. context that changed)."""
        ...

    async def turn_ended(self, turn_id: str, status: str) -> None:
        """The turn is over (``completed`` | ``interrupted`` | ``failed``), before
        ``turn/completed`` goes out."""
        ...


def unsupported_call_output(call: FunctionCall) -> str:
    """The output sent back for a call nothing handles: namespace and name concatenated, as
    codex 0.169 answers (``unsupported call: mcp__nowheremystery``)."""
    return f"unsupported call: {call.namespace or ''}{call.name}"


class NoStepTools:
    """A step with no tools: every call is unsupported."""

    def model_tools(self) -> list[dict[str, Any]]:
        return []

    def context_items(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return []

    def handles(self, call: FunctionCall) -> bool:
        return False

    async def execute(self, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        return unsupported_call_output(call)

    async def step_finished(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class RoutedStep:
    """One step over several sources' snapshots: tools and context in source order; a call
    goes to the first snapshot that handles it."""

    def __init__(self, steps: Sequence[StepTools]) -> None:
        self.steps = tuple(steps)

    def model_tools(self) -> list[dict[str, Any]]:
        return [tool for step in self.steps for tool in step.model_tools()]

    def context_items(self, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for step in self.steps:
            items += step.context_items([*history, *items])
        return items

    def _owner(self, call: FunctionCall) -> StepTools | None:
        return next((step for step in self.steps if step.handles(call)), None)

    def handles(self, call: FunctionCall) -> bool:
        return self._owner(call) is not None

    async def execute(self, call: FunctionCall, ctx: CallContext) -> FunctionOutput:
        owner = self._owner(call)
        if owner is None:
            return unsupported_call_output(call)
        return await owner.execute(call, ctx)

    async def step_finished(self) -> None:
        for step in self.steps:
            if isinstance(step, StepFinished):
                await step.step_finished()

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            for step in self.steps:
                await step.aclose()


class ThreadTools:
    """A thread's tools: its sources, captured together at every step."""

    def __init__(self, sources: Sequence[ToolSource] = ()) -> None:
        self.sources = tuple(sources)

    async def capture_step(self) -> StepTools:
        captured: list[StepTools] = []
        try:
            for source in self.sources:
                captured.append(await source.capture())
        except BaseException:
            await RoutedStep(captured).aclose()
            raise
        return RoutedStep(captured) if captured else NoStepTools()

    async def turn_started(self, turn_id: str, history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for source in self.sources:
            if isinstance(source, TurnHooks):
                items += await source.turn_started(turn_id, [*history, *items])
        return items

    async def turn_ended(self, turn_id: str, status: str) -> None:
        with anyio.CancelScope(shield=True):
            for source in self.sources:
                if isinstance(source, TurnHooks):
                    await source.turn_ended(turn_id, status)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            for source in self.sources:
                await source.aclose()


class ThreadView(Protocol):
    """The thread as its tools see it: read live at every step and call."""

    @property
    def id(self) -> str: ...

    @property
    def cwd(self) -> str: ...

    @property
    def approval_policy(self) -> Any: ...

    @property
    def sandbox_mode(self) -> str | None: ...

    @property
    def environment_ids(self) -> Sequence[str]:
        """The environments the thread selected, in order."""
        ...

    @property
    def active_turn_id(self) -> str | None: ...

    @property
    def model(self) -> str:
        """The model slug of the next request."""
        ...

    @property
    def sandbox_policy(self) -> dict[str, Any] | None:
        """The wire sandbox policy a turn set (refines :attr:`sandbox_mode` while they agree)."""
        ...

    @property
    def collaboration_mode(self) -> str:
        """``default`` or ``plan``."""
        ...

    @property
    def environment_selections(self) -> Sequence[EnvironmentSelection]:
        """The selected environments with their cwd, in order (the first is the primary)."""
        ...

    @property
    def config(self) -> Config: ...

    @property
    def goals(self) -> GoalStore:
        """The thread's goal, shared by the model's goal tools and ``thread/goal/*``."""
        ...

    def record(self, kind: str, payload: Any) -> None:
        """Append a record to the thread's rollout (e.g. the tool names it gave)."""
        ...


@dataclass(frozen=True)
class ThreadToolsContext:
    """What the tools factory learns about the thread it equips."""

    thread: ThreadView
    config: Config
    selected_roots: tuple[SelectedCapabilityRoot, ...] = ()
    # The rollout's records of a resumed thread the factory may need (e.g. tool names).
    stored: Mapping[str, Any] = field(default_factory=dict)

    @property
    def thread_id(self) -> str:
        return self.thread.id

    @property
    def cwd(self) -> str:
        return self.thread.cwd


ToolsFactory = Callable[[ThreadToolsContext], ThreadTools]


def no_tools(context: ThreadToolsContext) -> ThreadTools:
    """A thread without tools (tests and embedding)."""
    return ThreadTools()
