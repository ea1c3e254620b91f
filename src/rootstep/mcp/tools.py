"""Model-visible MCP tools (spec §6.1–6.3, §6.6): pure functions of the listed tools.

Raw identities (server name, raw tool name) are kept for the protocol call; the model sees
sanitized, de-duplicated names within the Responses API's 64-character limit, grouped into
``mcp__<server>`` namespace tools. Nothing here does IO, so every rule is tested directly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import mcp_types as types


MCP_PREFIX = "mcp__"
DELIMITER = "__"
MAX_TOOL_NAME_LENGTH = 64
HASH_LEN = 12
_PRIMITIVE_TYPES = ("string", "number", "boolean", "integer", "object", "array", "null")
_CHILD_KEYS = ("items", "anyOf", "oneOf", "allOf")
_KEPT_KEYS = (
    "$ref", "type", "description", "enum", "items", "properties", "required", "additionalProperties",
    "anyOf", "oneOf", "allOf", "$defs", "definitions",
)


@dataclass(frozen=True, eq=False)
class ToolInfo:
    """One listed tool with its raw identity and (after normalization) its model-visible name."""

    server: str
    tool: types.Tool
    callable_namespace: str
    callable_name: str
    namespace_description: str | None = None
    connector_id: str | None = None
    plugin_id: str | None = None
    plugin_display_names: tuple[str, ...] = field(default=())

    @property
    def model_name(self) -> tuple[str, str]:
        return self.callable_namespace, self.callable_name

    @property
    def read_only(self) -> bool:
        return bool(self.tool.annotations and self.tool.annotations.read_only_hint)


def sanitize_name(name: str) -> str:
    """Every char outside ``[A-Za-z0-9_]`` becomes ``_``; empty becomes ``_``."""
    out = "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else "_" for c in name)
    return out or "_"


def _sha1_suffix(identity: str) -> str:
    return "_" + hashlib.sha1(identity.encode("utf-8")).hexdigest()[:HASH_LEN]


def _with_prefix(namespace: str, prefix: bool) -> str:
    return namespace if not prefix or namespace.startswith(MCP_PREFIX) else MCP_PREFIX + namespace


def _namespace_with_suffix(namespace: str, identity: str) -> str:
    if namespace.endswith(DELIMITER):
        return namespace[: -len(DELIMITER)] + _sha1_suffix(identity) + DELIMITER
    return namespace + _sha1_suffix(identity)


def _fit_with_hash(namespace: str, name: str, identity: str, reserved: int) -> tuple[str, str]:
    suffix = _sha1_suffix(identity)
    max_name = max(0, MAX_TOOL_NAME_LENGTH - (len(namespace) + reserved))
    if max_name >= len(suffix):
        return namespace, name[: max_name - len(suffix)] + suffix
    max_namespace = max(0, MAX_TOOL_NAME_LENGTH - (len(suffix) + reserved))
    return namespace[:max_namespace], suffix


def _unique_parts(namespace: str, name: str, identity: str, used: set[str], reserved: int) -> tuple[str, str]:
    flat = namespace + name
    if len(flat) + reserved <= MAX_TOOL_NAME_LENGTH and flat not in used:
        used.add(flat)
        return namespace, name
    attempt = 0
    while True:
        seed = identity if attempt == 0 else f"{identity}\0{attempt}"
        ns, nm = _fit_with_hash(namespace, name, seed, reserved)
        if ns + nm not in used:
            used.add(ns + nm)
            return ns, nm
        attempt += 1


def normalize_tools_for_model(tools: Iterable[ToolInfo], *, prefix: bool = True) -> list[ToolInfo]:
    """Spec §6.2: sanitize, prefix ``mcp__``, drop exact duplicates, hash-suffix collisions,
    fit ``namespace + name + 2 <= 64``; the result is ordered by raw identity."""
    seen: set[str] = set()
    candidates: list[tuple[str, str, ToolInfo, str, str]] = []  # ns_identity, tool_identity, info, ns, name
    for info in tools:
        ns_identity = f"{info.server}\0{info.callable_namespace}\0{info.connector_id or ''}"
        tool_identity = f"{ns_identity}\0{info.callable_name}\0{info.tool.name}"
        if tool_identity in seen:
            continue
        seen.add(tool_identity)
        namespace = _with_prefix(sanitize_name(info.callable_namespace), prefix)
        candidates.append((ns_identity, tool_identity, info, namespace, sanitize_name(info.callable_name)))

    ns_owners: dict[str, set[str]] = {}
    for ns_identity, _, _, namespace, _ in candidates:
        ns_owners.setdefault(namespace, set()).add(ns_identity)
    candidates = [
        (a, b, info, _namespace_with_suffix(ns, a) if len(ns_owners[ns]) > 1 else ns, name)
        for a, b, info, ns, name in candidates
    ]
    tool_owners: dict[tuple[str, str], set[str]] = {}
    for _, tool_identity, _, namespace, name in candidates:
        tool_owners.setdefault((namespace, name), set()).add(tool_identity)
    candidates = [
        (a, b, info, ns, name + _sha1_suffix(b) if len(tool_owners[(ns, name)]) > 1 else name)
        for a, b, info, ns, name in candidates
    ]
    candidates.sort(key=lambda c: c[1])
    used: set[str] = set()
    out = []
    for _, tool_identity, info, namespace, name in candidates:
        ns, nm = _unique_parts(namespace, name, tool_identity, used, len(DELIMITER))
        out.append(replace(info, callable_namespace=ns, callable_name=nm))
    return out


def tool_is_model_visible(tool: types.Tool) -> bool:
    """Hidden when ``_meta.ui.visibility`` is a list without ``"model"``."""
    meta = tool.meta or {}
    ui = meta.get("ui") if isinstance(meta, Mapping) else None
    visibility = ui.get("visibility") if isinstance(ui, Mapping) else None
    return not isinstance(visibility, list) or "model" in visibility


def provenance_note(display_names: Sequence[str]) -> str | None:
    if not display_names:
        return None
    if len(display_names) == 1:
        return f"This tool is part of plugin `{display_names[0]}`."
    return "This tool is part of plugins " + ", ".join(f"`{n}`" for n in display_names) + "."


def add_plugin_provenance(description: str | None, display_names: Sequence[str]) -> str | None:
    """Spec §6.6: suffix a plugin-owned tool's description with which plugin(s) it is part of."""
    note = provenance_note(display_names)
    if note is None:
        return description
    trimmed = (description or "").strip()
    if not trimmed:
        return note
    if trimmed.endswith((".", "!", "?")):
        return f"{trimmed} {note}"
    return f"{trimmed}. {note}"


def default_namespace_description(namespace: str) -> str:
    return f"Tools in the {namespace} namespace."


# --- input schema → Responses `parameters` -------------------------------------------------


def _types_of(schema: dict[str, Any]) -> list[str]:
    raw = schema.get("type")
    values = raw if isinstance(raw, list) else [raw] if raw is not None else []
    out: list[str] = []
    for value in values:
        if value in _PRIMITIVE_TYPES and value not in out:
            out.append(value)
    return out


def sanitize_schema(value: Any) -> Any:
    """Reduce a JSON schema to the subset the Responses API accepts (spec §6.3). Pure."""
    if isinstance(value, bool):
        return {"type": "string"}
    if isinstance(value, list):
        return [sanitize_schema(v) for v in value]
    if not isinstance(value, dict):
        return value
    schema = dict(value)
    if isinstance(schema.get("properties"), dict):
        schema["properties"] = {k: sanitize_schema(v) for k, v in schema["properties"].items()}
    for key in _CHILD_KEYS:
        if key in schema:
            schema[key] = sanitize_schema(schema[key])
    if "additionalProperties" in schema and not isinstance(schema["additionalProperties"], bool):
        schema["additionalProperties"] = sanitize_schema(schema["additionalProperties"])
    for table in ("$defs", "definitions"):
        if isinstance(schema.get(table), dict):
            schema[table] = {k: sanitize_schema(v) for k, v in schema[table].items()}
        else:
            schema.pop(table, None)
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    kinds = _types_of(schema)
    if not kinds:
        if "$ref" in schema or any(k in schema for k in ("anyOf", "oneOf", "allOf")):
            return _project(schema)
        if any(k in schema for k in ("properties", "required", "additionalProperties")):
            kinds = ["object"]
        elif "items" in schema or "prefixItems" in schema:
            kinds = ["array"]
        elif "enum" in schema or "format" in schema:
            kinds = ["string"]
        elif any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
            kinds = ["number"]
        else:
            return {}
    schema["type"] = kinds[0] if len(kinds) == 1 else kinds
    if "object" in kinds and not isinstance(schema.get("properties"), dict):
        schema["properties"] = {}
    if "array" in kinds and "items" not in schema:
        schema["items"] = {"type": "string"}
    return _project(schema)


def _project(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: schema[k] for k in _KEPT_KEYS if k in schema}


def parameters_for_model(input_schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The function's ``parameters``: the input schema with ``properties`` always present."""
    schema = dict(input_schema or {})
    if schema.get("properties") is None:
        schema["properties"] = {}
    result = sanitize_schema(schema)
    if not result:
        result = {"type": "object", "properties": {}}
    return cast(dict[str, Any], result)


# --- Responses `tools` array ---------------------------------------------------------------


def function_tool(info: ToolInfo) -> dict[str, Any]:
    description = add_plugin_provenance(info.tool.description, info.plugin_display_names) or ""
    return {
        "type": "function",
        "name": info.callable_name,
        "description": description,
        "strict": False,
        "parameters": parameters_for_model(info.tool.input_schema),
    }


def namespace_tools(tools: Iterable[ToolInfo]) -> list[dict[str, Any]]:
    """Namespace tool entries (spec §6.3): merged by name, sorted, children sorted by name."""
    groups: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for info in tools:
        description, children = groups.get(info.callable_namespace, ("", []))
        if not description.strip() and (info.namespace_description or "").strip():
            description = info.namespace_description.strip()  # type: ignore[union-attr]
        children.append(function_tool(info))
        groups[info.callable_namespace] = (description, children)
    out: list[dict[str, Any]] = []
    for namespace in sorted(groups):
        description, children = groups[namespace]
        out.append(
            {
                "type": "namespace",
                "name": namespace,
                "description": description or default_namespace_description(namespace),
                "tools": sorted(children, key=lambda c: c["name"]),
            }
        )
    return out


def tool_json(tool: types.Tool, display_names: Sequence[str] = ()) -> dict[str, Any]:
    """The MCP tool as JSON (status listing), description with plugin provenance."""
    data = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
    if display_names:
        data["description"] = add_plugin_provenance(tool.description, display_names)
    return data


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
