"""What a tool call turns into: the model's ``function_call_output`` (spec §6.5) and the
``mcpToolCall`` item's result (spec §2.12). Pure functions of the ``CallToolResult``.
"""

from __future__ import annotations

import json
from typing import Any, cast

import mcp_types as types

from rootstep.mcp.tools import compact_json

# The model-facing budget (about what codex 0.169 keeps of a huge text result).
DEFAULT_OUTPUT_MAX_BYTES = 12_000
# mcpToolCall item results above this are collapsed to a preview (DEFAULT_OUTPUT_BYTES_CAP).
ITEM_RESULT_MAX_BYTES = 1024 * 1024
ENCRYPTED_META_KEY = "codex/encryptedContent"

FunctionOutput = str | list[dict[str, Any]]


def truncate_middle(text: str, max_bytes: int) -> str:
    """Keep the head and the tail of ``text`` within ``max_bytes`` (UTF-8), marking the cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    half = max(0, max_bytes // 2)
    head = data[:half].decode("utf-8", "ignore")
    tail = data[len(data) - half :].decode("utf-8", "ignore") if half else ""
    removed = len(text) - len(head) - len(tail)
    return f"{head}…{removed} chars truncated…{tail}"


def error_result(message: str) -> types.CallToolResult:
    """A call that failed before or while talking to the server, as the model sees it."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _block_json(block: Any) -> dict[str, Any]:
    if hasattr(block, "model_dump"):
        return cast(dict[str, Any], block.model_dump(by_alias=True, mode="json", exclude_none=True))
    return block if isinstance(block, dict) else {"value": block}


def _is_encrypted(block: dict[str, Any]) -> bool:
    meta = block.get("_meta")
    return isinstance(meta, dict) and meta.get(ENCRYPTED_META_KEY) is True


def _input_item(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {"type": "input_text", "text": str(block.get("text", ""))}
    if kind == "image":
        data = str(block.get("data", ""))
        url = data if data.startswith("data:") else f"data:{block.get('mimeType', 'image/png')};base64,{data}"
        return {"type": "input_image", "image_url": url, "detail": "high"}
    if kind == "audio":
        return {"type": "input_audio", "input_audio": {"data": block.get("data", ""), "format": _audio_format(block)}}
    return {"type": "input_text", "text": compact_json(block)}


def _audio_format(block: dict[str, Any]) -> str:
    mime = str(block.get("mimeType", "audio/wav"))
    return mime.split("/", 1)[-1]


def function_call_output(
    result: types.CallToolResult, wall_time_s: float, *, max_bytes: int = DEFAULT_OUTPUT_MAX_BYTES
) -> FunctionOutput:
    """Structured content → one string (header + compact JSON); otherwise an array: the header,
    then each content block as an input item (text, image as a data URL, audio, other JSON).

    That is what codex 0.169 sends (observed; the source's older text form JSON-encoded the
    blocks). Text is cut in the middle to ``max_bytes`` in total.
    """
    header = f"Wall time: {wall_time_s:.4f} seconds\nOutput:"
    blocks = [_block_json(b) for b in result.content]
    if result.structured_content is not None and not any(_is_encrypted(b) for b in blocks):
        text = truncate_middle(compact_json(result.structured_content), max_bytes)
        return f"{header}\n{text}" if text else header
    items = [_input_item(b) for b in blocks]
    budget = max_bytes
    for item in items:
        if item["type"] == "input_text":
            item["text"] = truncate_middle(item["text"], max(0, budget))
            budget -= len(item["text"].encode("utf-8"))
    return [{"type": "input_text", "text": header}, *items]


def item_result(result: types.CallToolResult) -> dict[str, Any]:
    """The ``mcpToolCall.result`` payload; over 1 MiB it becomes one truncated text preview."""
    payload = {
        "content": [_block_json(b) for b in result.content],
        "structuredContent": result.structured_content,
        "_meta": result.meta,
    }
    serialized = json.dumps(payload, ensure_ascii=False)
    if len(serialized.encode("utf-8")) <= ITEM_RESULT_MAX_BYTES:
        return payload
    preview = truncate_middle(serialized, ITEM_RESULT_MAX_BYTES)
    return {"content": [{"type": "text", "text": preview}], "structuredContent": None, "_meta": None}


def direct_call_response(result: types.CallToolResult) -> dict[str, Any]:
    """``mcpServer/tool/call`` response (spec §2.7): the result 1:1, absent fields omitted."""
    out: dict[str, Any] = {"content": [_block_json(b) for b in result.content]}
    if result.structured_content is not None:
        out["structuredContent"] = result.structured_content
    if result.is_error is not None:
        out["isError"] = result.is_error
    if result.meta is not None:
        out["_meta"] = result.meta
    return out
