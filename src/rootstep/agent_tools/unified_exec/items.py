"""``commandExecution`` thread items and ``item/commandExecution/outputDelta`` params, shaped as
0.169 emits them (key order included)."""

from __future__ import annotations

from typing import Any, Literal

Status = Literal["inProgress", "completed", "failed", "declined"]
Source = Literal["agent", "userShell", "unifiedExecStartup", "unifiedExecInteraction"]


def command_execution_item(
    *, item_id: str, command: str, cwd: str, process_id: str | None, source: Source, status: Status,
    command_actions: list[dict[str, Any]], aggregated_output: str | None = None, exit_code: int | None = None,
    duration_ms: int | None = None, started_at_ms: int | None = None, completed_at_ms: int | None = None,
) -> dict[str, Any]:
    return {
        "type": "commandExecution", "id": item_id, "pluginId": None, "scriptPath": None, "command": command,
        "cwd": cwd, "processId": process_id, "source": source, "status": status, "commandActions": command_actions,
        "aggregatedOutput": aggregated_output, "exitCode": exit_code, "durationMs": duration_ms,
        "startedAtMs": started_at_ms, "completedAtMs": completed_at_ms,
    }


def output_delta_params(*, thread_id: str, turn_id: str, item_id: str, delta: str) -> dict[str, Any]:
    return {"threadId": thread_id, "turnId": turn_id, "itemId": item_id, "delta": delta}


def rust_debug_str(text: str) -> str:
    """A string as Rust's ``{:?}`` writes it."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def create_process_failure(message: str) -> str:
    """The output for a command that could not be started (0.169's error text)."""
    inner = rust_debug_str(f"Rejected({rust_debug_str(message)})")
    return f"exec_command failed: CreateProcess {{ message: {inner} }}"
