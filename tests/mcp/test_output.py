"""CallToolResult → function_call_output (spec §6.5) and the mcpToolCall item result (§2.12)."""

from __future__ import annotations

import json

import mcp_types as types
from hypothesis import given, strategies as st

from rootstep.mcp.output import (
    ITEM_RESULT_MAX_BYTES,
    direct_call_response,
    error_result,
    function_call_output,
    item_result,
    truncate_middle,
)


def text(t: str) -> types.TextContent:
    return types.TextContent(type="text", text=t)


def test_structured_content_wins_and_is_compact_json_after_the_header():
    result = types.CallToolResult(content=[text("ignored")],
                                  structured_content={"echo": "ECHOING: hello", "env": "marked"})
    assert function_call_output(result, 0.0025) == (
        'Wall time: 0.0025 seconds\nOutput:\n{"echo":"ECHOING: hello","env":"marked"}'
    )


def test_plain_content_is_an_array_of_input_items():
    out = function_call_output(types.CallToolResult(content=[text("ECHOING: hi"), text("two")]), 1.5)
    assert out == [
        {"type": "input_text", "text": "Wall time: 1.5000 seconds\nOutput:"},
        {"type": "input_text", "text": "ECHOING: hi"},
        {"type": "input_text", "text": "two"},
    ]


def test_images_make_an_array_output_with_data_urls():
    result = types.CallToolResult(
        content=[text("look"), types.ImageContent(type="image", data="AAAA", mime_type="image/png")]
    )
    assert function_call_output(result, 0.1) == [
        {"type": "input_text", "text": "Wall time: 0.1000 seconds\nOutput:"},
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"},
    ]


def test_errors_are_not_visible_in_the_output_but_text_is():
    out = function_call_output(error_result("tool call error: boom"), 0)
    assert out == [{"type": "input_text", "text": "Wall time: 0.0000 seconds\nOutput:"},
                   {"type": "input_text", "text": "tool call error: boom"}]


def test_huge_output_is_truncated_in_the_middle():
    result = types.CallToolResult(content=[text("a" * 100_000 + "END")])
    out = function_call_output(result, 0, max_bytes=1000)
    assert len(out[1]["text"].encode()) < 1100
    assert "chars truncated" in out[1]["text"] and out[1]["text"].endswith("END")
    structured = types.CallToolResult(content=[], structured_content={"big": "b" * 100_000})
    assert len(function_call_output(structured, 0, max_bytes=1000).encode()) < 1200


@given(st.text(max_size=300), st.integers(min_value=0, max_value=400))
def test_truncate_middle_bounds(value, limit):
    out = truncate_middle(value, limit)
    if len(value.encode()) <= limit:
        assert out == value
    else:
        assert "chars truncated" in out
        head, _, _ = out.partition("…")
        assert value.startswith(head)


def test_item_result_passes_small_results_and_collapses_huge_ones():
    small = types.CallToolResult(content=[text("hi")], structured_content={"a": 1}, _meta={"m": 1})
    assert item_result(small) == {"content": [{"type": "text", "text": "hi"}], "structuredContent": {"a": 1},
                                  "_meta": {"m": 1}}
    huge = types.CallToolResult(content=[text("x" * (2 * ITEM_RESULT_MAX_BYTES))], structured_content={"big": True})
    out = item_result(huge)
    assert out["structuredContent"] is None and out["_meta"] is None
    assert len(out["content"]) == 1 and "truncated" in out["content"][0]["text"]
    assert len(json.dumps(out).encode()) < 2 * 1024 * 1024 + 2048


def test_direct_call_response_omits_absent_fields():
    result = types.CallToolResult(content=[text("ECHOING: direct")], structured_content={"echo": "ECHOING: direct"})
    assert direct_call_response(result) == {
        "content": [{"type": "text", "text": "ECHOING: direct"}],
        "structuredContent": {"echo": "ECHOING: direct"},
        "isError": False,
    }
