"""A command the *user* runs in the thread's shell (the TUI's ``!cmd``, ``thread/shellCommand``).

As 0.169 runs it: in the thread's local environment at its cwd, through the environment's shell
as a login shell (``/bin/bash -lc '<command>'``), with no sandbox and no approval (the user
asked for it), for at most an hour. The client sees a ``commandExecution`` item with
``source: userShell`` (a fresh uuid, no process id) and its output as deltas; the item's
``aggregatedOutput`` is stdout then stderr. The model learns of it at its next request through a
``<user_shell_command>`` user message (:func:`record_text`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from rootstep.agent_tools.unified_exec.command_actions import command_actions, resolved_in
from rootstep.agent_tools.unified_exec.items import command_execution_item, output_delta_params
from rootstep.agent_tools.unified_exec.output import formatted_truncate
from rootstep.agent_tools.unified_exec.shell_words import join as shlex_join
from rootstep.agent_tools.wire import OUTPUT_DELTA, notification
from rootstep.environments.processes import ProcessFailed, ProcessSpec, ProcessStartError
from rootstep.tools import ItemSink

TIMEOUT_S = 60 * 60
ABORTED = "command aborted by user"
MODEL_OUTPUT_TOKENS = 10_000


@dataclass(frozen=True)
class ShellResult:
    exit_code: int
    output: str  # stdout then stderr
    duration_s: float


def record_text(command: str, result: ShellResult) -> str:
    """The ``<user_shell_command>`` message the model reads (0.169's words)."""
    output = formatted_truncate(result.output, MODEL_OUTPUT_TOKENS)
    return (
        f"<user_shell_command>\n<command>\n{command}\n</command>\n<result>\nExit code: {result.exit_code}\n"
        f"Duration: {result.duration_s:.4f} seconds\nOutput:\n{output}\n</result>\n</user_shell_command>"
    )


def record_item(command: str, result: ShellResult) -> dict[str, Any]:
    text = record_text(command, result)
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


class _Decoder:
    """Incremental UTF-8 per stream (a character split across chunks waits for its rest)."""

    def __init__(self) -> None:
        self.tail = b""

    def feed(self, data: bytes) -> str:
        data = self.tail + data
        for cut in range(4):
            end = len(data) - cut
            try:
                text = data[:end].decode("utf-8")
            except UnicodeDecodeError:
                continue
            self.tail = data[end:]
            return text
        self.tail = b""
        return data.decode("utf-8", "replace")


async def run_user_shell(
    *, environment: Any, cwd: str, shell: str, command: str, thread_id: str, turn_id: str, items: ItemSink,
    notify: Callable[[Any], Awaitable[None]], timeout_s: float = TIMEOUT_S,
) -> ShellResult:
    """Run the command, report it as an item, return what the model should be told."""
    argv = [shell, "-lc", command]
    display = shlex_join(argv)
    item = command_execution_item(
        item_id=str(uuid.uuid4()), command=display, cwd=cwd, process_id=None, source="userShell", status="inProgress",
        command_actions=resolved_in(command_actions(argv), cwd), started_at_ms=int(time.time() * 1000),
    )
    await items.started(item)  # type: ignore[arg-type]
    started = time.monotonic()
    stdout, stderr = bytearray(), bytearray()
    exit_code = -1
    aborted = False
    try:
        handle = await environment.start_process(ProcessSpec(argv=argv, cwd=cwd, env={"CODEX_THREAD_ID": thread_id}),
                                                 f"user-shell-{item['id']}")
    except (ProcessStartError, ProcessFailed) as exc:
        stderr += f"execution error: {exc}".encode()
        handle = None
    if handle is not None:
        decoders = {"stdout": _Decoder(), "stderr": _Decoder(), "pty": _Decoder()}
        try:
            with anyio.move_on_after(timeout_s) as timer:
                while (chunk := await handle.read()) is not None:
                    (stderr if chunk.stream == "stderr" else stdout).extend(chunk.data)
                    text = decoders[chunk.stream].feed(chunk.data)
                    if text:
                        await notify(notification(OUTPUT_DELTA, output_delta_params(
                            thread_id=thread_id, turn_id=turn_id, item_id=item["id"], delta=text)))
                exit_code = await handle.wait()
            if timer.cancelled_caught:
                exit_code = 124
        except ProcessFailed as exc:
            stderr += str(exc).encode()
        except anyio.get_cancelled_exc_class():
            aborted = True
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await handle.aclose()
                if aborted:
                    result = ShellResult(-1, ABORTED, 0.0)
                    await _complete(items, item, result, started)
    output = (bytes(stdout) + bytes(stderr)).decode("utf-8", "replace")
    result = ShellResult(exit_code, output, time.monotonic() - started)
    await _complete(items, item, result, started)
    return result


async def _complete(items: ItemSink, item: dict[str, Any], result: ShellResult, started: float) -> None:
    done = {
        **item, "status": "completed" if result.exit_code == 0 else "failed", "aggregatedOutput": result.output or None,
        "exitCode": result.exit_code, "durationMs": int((time.monotonic() - started) * 1000),
        "completedAtMs": int(time.time() * 1000),
    }
    await items.completed(done)  # type: ignore[arg-type]
