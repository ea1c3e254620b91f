"""Client ``UserInput`` → Responses API input items (pure, except reading local files)."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import Any

from rootstep.protocol.items import (
    AudioInput,
    ImageInput,
    LocalAudioInput,
    LocalImageInput,
    MentionInput,
    SkillInput,
    TextInput,
)


def _data_url(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _skill_message(skill: SkillInput) -> dict[str, Any]:
    path = Path(skill.path)
    try:
        body = path.read_text(encoding="utf-8")
    except OSError as exc:
        body = f"(could not read {path}: {exc.strerror or exc})"
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
