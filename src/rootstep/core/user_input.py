"""Client ``UserInput`` → Responses API input items (pure, except reading local files, which
blocks: callers run it in a worker thread when :func:`names_local_files`)."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import Any

from rootstep.bounded_read import DEFAULT_READ_LIMIT, read_regular_file, read_regular_text
from rootstep.protocol.items import (
    AudioInput,
    ImageInput,
    LocalAudioInput,
    LocalImageInput,
    MentionInput,
    SkillInput,
    TextInput,
)

# A client names these files; they are read as regular files only (never a FIFO or a link to
# /dev/zero), within these bounds. A skill file is held to the limit ``skills/list`` applies.
MAX_LOCAL_IMAGE_BYTES = 50 * 1024 * 1024
MAX_SKILL_INPUT_BYTES = DEFAULT_READ_LIMIT


def names_local_files(inputs: list[Any]) -> bool:
    """Whether building these inputs reads files (the caller then does it off the event loop)."""
    return any(isinstance(item, (LocalImageInput, SkillInput)) for item in inputs)


def _data_url(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    data = read_regular_file(str(path), MAX_LOCAL_IMAGE_BYTES)
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _skill_message(skill: SkillInput) -> dict[str, Any]:
    path = Path(skill.path)
    try:
        body = read_regular_text(str(path), MAX_SKILL_INPUT_BYTES)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        body = f"(could not read {path}: {reason})"
    text = f"<skill>\n<name>{skill.name}</name>\n<path>{skill.path}</path>\n{body}\n</skill>"
    return user_message([{"type": "input_text", "text": text}])


def user_message(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": content}


def to_response_items(inputs: list[Any]) -> list[dict[str, Any]]:
    """The user message (text and images) plus one extra message per skill input."""
    content: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    for item in inputs:
        if isinstance(item, TextInput):
            content.append({"type": "input_text", "text": item.text})
        elif isinstance(item, ImageInput):
            if item.url:
                content.append({"type": "input_image", "image_url": item.url, "detail": item.detail or "auto"})
        elif isinstance(item, LocalImageInput):
            try:
                url = _data_url(Path(item.path))
            except OSError as exc:
                content.append({"type": "input_text", "text": f"(image {item.path} unreadable: {exc.strerror})"})
            else:
                content.append({"type": "input_image", "image_url": url, "detail": item.detail or "auto"})
        elif isinstance(item, SkillInput):
            extra.append(_skill_message(item))
        elif isinstance(item, (AudioInput, LocalAudioInput)):
            # The Responses API takes no audio parts here; tell the model what was attached.
            where = item.path if isinstance(item, LocalAudioInput) else (item.url or item.file_id)
            content.append({"type": "input_text", "text": f"(audio attachment: {where})"})
        elif isinstance(item, MentionInput):
            content.append({"type": "input_text", "text": f"[{item.name}]({item.path})"})
    messages = [user_message(content)] if content else []
    return messages + extra


def preview_text(inputs: list[Any]) -> str:
    for item in inputs:
        if isinstance(item, TextInput):
            return item.text
    return ""
