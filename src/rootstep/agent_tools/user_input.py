"""``request_user_input``: up to three multiple-choice questions put to the user mid-turn.

Only in Plan collaboration mode (elsewhere the model gets ``request_user_input is unavailable in
<Mode> mode``). Arguments ``{questions: [{id, header, question, options: [{label,
description}]}]}``; every question needs options. The client gets the server request
``item/tool/requestUserInput`` (``isOther: true`` on every question, ``isSecret: false``,
``isBlocking: true``, ``autoResolutionMs: null``; no item is emitted) and answers
``{answers: {<question id>: {answers: [..]}}}``; the model gets that answer as compact JSON.
"""

from __future__ import annotations

import json
from typing import Any

from rootstep.agent_tools.arguments import ArgumentsError, Field, Struct, parse_arguments
from rootstep.agent_tools.specs import tool_spec

METHOD = "item/tool/requestUserInput"
NEEDS_OPTIONS = "request_user_input requires non-empty options for every question"
CANCELLED = "request_user_input was cancelled before receiving a response"
ROOT_ONLY = "request_user_input can only be used by the root thread"

_OPTION = Struct((Field("label", "string"), Field("description", "string")), deny_unknown=False)
_QUESTION = Struct(
    (Field("id", "string"), Field("header", "string"), Field("question", "string"),
     Field("options", "array", required=False, item=_OPTION)),
    deny_unknown=False,
)
ARGS = Struct((Field("questions", "array", item=_QUESTION),), deny_unknown=False)


def request_user_input_tool() -> dict[str, Any]:
    return tool_spec("request_user_input")


def unavailable_message(mode: str) -> str | None:
    """None in Plan mode; else the refusal (``mode`` as the wire spells it: default, plan…)."""
    if mode == "plan":
        return None
    return f"request_user_input is unavailable in {mode[:1].upper()}{mode[1:]} mode"


def prepare_request(
    arguments: str, *, thread_id: str, turn_id: str, item_id: str
) -> tuple[dict[str, Any] | None, str | None]:
    """(``item/tool/requestUserInput`` params, None) or (None, text for the model)."""
    try:
        args = parse_arguments(arguments, ARGS)
    except ArgumentsError as exc:
        return None, str(exc)
    questions = []
    for q in args["questions"]:
        if not q.get("options"):
            return None, NEEDS_OPTIONS
        questions.append({
            "id": q["id"], "header": q["header"], "question": q["question"], "isOther": True, "isSecret": False,
            "options": [{"label": o["label"], "description": o["description"]} for o in q["options"]],
        })
    params = {"threadId": thread_id, "turnId": turn_id, "itemId": item_id, "questions": questions,
              "isBlocking": True, "autoResolutionMs": None}
    return params, None


def answer_text(response: Any) -> str:
    """The client's ``ToolRequestUserInputResponse`` as the model receives it."""
    answers = response.get("answers") if isinstance(response, dict) else None
    if not isinstance(answers, dict):
        return CANCELLED
    clean = {
        k: {"answers": [str(a) for a in (v or {}).get("answers", [])]}
        for k, v in answers.items()
        if isinstance(v, dict)
    }
    return json.dumps({"answers": clean}, separators=(",", ":"), ensure_ascii=False)
