"""``view_image``: an image file from the environment, shown to the model on its next request.

The path resolves against the cwd; the file is read through the environment (local or an
executor), decoded to check it really is an image (PNG, JPEG, GIF, WebP), and resized when it
exceeds 0.169's limits — at most 2048 px a side and 2500 patches of 32×32 px, keeping the
aspect ratio (bilinear filter), the patch-limited size snapped down to whole patches. An image
within the limits goes out byte for byte (PNG/JPEG/WebP; GIF is re-encoded as PNG). The output
is a ``function_call_output`` whose ``output`` is ``[{type: input_image, image_url: data:…,
detail: high}]``; the client sees an ``imageView`` item (``{id: call id, path}``).
"""

from __future__ import annotations

import base64
import io
import math
import posixpath
from dataclasses import dataclass
from typing import Any

from rootstep.agent_tools.arguments import ArgumentsError, Field, Struct, parse_arguments
from rootstep.agent_tools.specs import tool_spec
from rootstep.environments.base import Environment

MAX_DIMENSION = 2048
MAX_PATCHES = 2500
PATCH = 32
UNSUPPORTED = "unable to process image: invalid or unsupported image data"
ARGS = Struct((Field("path", "string"), Field("detail", "string", required=False)), deny_unknown=False)
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def view_image_tool() -> dict[str, Any]:
    return tool_spec("view_image")


def _fits(width: int, height: int) -> bool:
    patches = math.ceil(width / PATCH) * math.ceil(height / PATCH)
    return width <= MAX_DIMENSION and height <= MAX_DIMENSION and patches <= MAX_PATCHES


def target_size(width: int, height: int) -> tuple[int, int]:
    """The size the model gets for a ``width × height`` image (pure, 0.169's arithmetic)."""
    width, height = max(width, 1), max(height, 1)
    if _fits(width, height):
        return width, height
    scale = min(MAX_DIMENSION / max(width, height), 1.0)
    width, height = max(math.floor(width * scale + 0.5), 1), max(math.floor(height * scale + 0.5), 1)
    if _fits(width, height):
        return width, height
    scale = math.sqrt(PATCH * PATCH * MAX_PATCHES / width / height)
    wide, high = width * scale / PATCH, height * scale / PATCH
    scale *= min(math.floor(wide) / wide, math.floor(high) / high)
    return max(math.floor(width * scale), 1), max(math.floor(height * scale), 1)


@dataclass(frozen=True)
class PreparedImage:
    data_url: str
    width: int
    height: int


def prepare_image(data: bytes) -> PreparedImage:
    """Decode, resize if needed and encode as a data URL; ValueError(UNSUPPORTED) otherwise."""
    from PIL import Image, UnidentifiedImageError

    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        fmt = image.format
        if fmt not in ("PNG", "JPEG", "GIF", "WEBP"):
            raise ValueError(UNSUPPORTED)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(UNSUPPORTED) from exc
    width, height = image.size
    new_size = target_size(width, height)
    if new_size == (width, height) and fmt in _MIME:
        return PreparedImage(f"data:{_MIME[fmt]};base64,{base64.b64encode(data).decode()}", width, height)
    if new_size != (width, height):
        image = image.convert("RGBA" if fmt != "JPEG" else "RGB").resize(new_size, Image.Resampling.BILINEAR)
    out = io.BytesIO()
    save_as = fmt if fmt in ("JPEG", "WEBP") and new_size != (width, height) else "PNG"
    if save_as == "JPEG":
        image.save(out, "JPEG", quality=85)
    elif save_as == "WEBP":
        image.save(out, "WEBP", lossless=True)
    else:
        image.convert("RGBA").save(out, "PNG")
    return PreparedImage(f"data:{_MIME[save_as]};base64,{base64.b64encode(out.getvalue()).decode()}", *new_size)


@dataclass(frozen=True)
class ViewImageResult:
    """``output`` for the function_call_output (a content list, or an error string) and the
    absolute ``path`` for the ``imageView`` item (None when nothing was shown)."""

    output: list[dict[str, Any]] | str
    path: str | None = None


async def handle_view_image(env: Environment, cwd: str, arguments: str) -> ViewImageResult:
    try:
        args = parse_arguments(arguments, ARGS)
    except ArgumentsError as exc:
        return ViewImageResult(str(exc))
    path = posixpath.join(cwd, args["path"])
    try:
        meta = await env.get_metadata(path)
    except OSError as exc:
        return ViewImageResult(f"unable to locate image at `{path}`: {_os_text(exc)}")
    if meta is None:
        return ViewImageResult(f"unable to locate image at `{path}`: No such file or directory (os error 2)")
    if not meta.is_file:
        return ViewImageResult(f"image path `{path}` is not a file")
    try:
        data = await env.read_file(path)
    except OSError as exc:
        return ViewImageResult(f"unable to read image at `{path}`: {_os_text(exc)}")
    try:
        image = prepare_image(data)
    except ValueError as exc:
        return ViewImageResult(str(exc))
    return ViewImageResult([{"type": "input_image", "image_url": image.data_url, "detail": "high"}], path)


def image_view_item(
    item_id: str, path: str, *, started_at_ms: int, completed_at_ms: int | None = None
) -> dict[str, Any]:
    return {
        "type": "imageView", "id": item_id, "path": path, "startedAtMs": started_at_ms, "completedAtMs": completed_at_ms
    }


def _os_text(exc: OSError) -> str:
    if exc.errno is not None and isinstance(exc.strerror, str):
        return exc.strerror if "(os error" in exc.strerror else f"{exc.strerror} (os error {exc.errno})"
    return str(exc)
