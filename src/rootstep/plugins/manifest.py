"""``plugin.json`` — the manifest that makes a capability root a plugin (spec §4.1–4.2).

Parsing is lenient the way the reference is: a field of the wrong shape, or a path that does
not follow the ``./``-only rule, is ignored with a warning rather than failing the plugin. Only
a document that is not a JSON object (or not JSON at all) is an error.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from rootstep.protocol.path_uri import PathUri, PathUriError

log = logging.getLogger(__name__)

# Probed in this order; the first existing file is the manifest.
MANIFEST_PATHS: tuple[str, ...] = (
    ".codex-plugin/plugin.json",
    ".claude-plugin/plugin.json",
    ".cursor-plugin/plugin.json",
)
DEFAULT_SKILLS_DIR = "skills"


class ManifestError(ValueError):
    """The manifest is not a JSON object."""


@dataclass(frozen=True)
class PluginInterface:
    """UI metadata; only ``display_name`` matters to the runtime."""

    display_name: str | None = None
    short_description: str | None = None
    long_description: str | None = None
    developer_name: str | None = None
    category: str | None = None
    capabilities: tuple[str, ...] = ()
    website_url: str | None = None
    default_prompts: tuple[str, ...] = ()
    brand_color: str | None = None


@dataclass(frozen=True)
class PluginManifest:
    """A parsed manifest with every declared path already resolved under the plugin root.

    ``mcp_servers`` is either a :class:`PathUri` (a declared file), a ``dict`` (an inline server
    map, kept as parsed JSON) or ``None`` (not declared: fall back to ``.mcp.json``).
    """

    name: str
    version: str | None = None
    description: str | None = None
    keywords: tuple[str, ...] = ()
    skills: tuple[PathUri, ...] = ()
    mcp_servers: PathUri | dict[str, Any] | None = None
    apps: PathUri | None = None
    interface: PluginInterface | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def display_name(self) -> str:
        """Trimmed ``interface.displayName`` when non-empty, else ``name`` (tool provenance)."""
        if self.interface and self.interface.display_name and self.interface.display_name.strip():
            return self.interface.display_name.strip()
        return self.name


def resolve_manifest_path(root: PathUri, field_name: str, value: Any, warnings: list[str]) -> PathUri | None:
    """The ``./``-only path rule: relative, not ``./``, no ``..``, stays under the root."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        warnings.append(f"ignoring {field_name}: expected a string path")
        return None
    if not value.startswith("./"):
        warnings.append(f"ignoring {field_name}: path must start with `./` relative to plugin root")
        return None
    relative = value[2:]
    if not relative:
        warnings.append(f"ignoring {field_name}: path must not be `./`")
        return None
    windows = root.convention == "windows"
    components = relative.replace("\\", "/").split("/") if windows else relative.split("/")
    if ".." in components:
        warnings.append(f"ignoring {field_name}: path must not contain '..'")
        return None
    if relative.startswith("/") or (
        windows and (relative.startswith("\\") or (len(relative) > 1 and relative[1] == ":"))
    ):
        warnings.append(f"ignoring {field_name}: path must stay within the plugin root")
        return None
    try:
        resolved = root.join(relative)
    except PathUriError as err:
        warnings.append(f"ignoring {field_name}: path must resolve under plugin root: {err}")
        return None
    if not resolved.starts_with(root):
        warnings.append(f"ignoring {field_name}: path must stay within the plugin root")
        return None
    return resolved


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _str_list(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _default_prompts(value: Any, warnings: list[str]) -> tuple[str, ...]:
    raw = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    prompts: list[str] = []
    for item in raw:
        if len(prompts) >= 3:
            warnings.append("ignoring interface.defaultPrompt: maximum of 3 prompts is supported")
            break
        if not isinstance(item, str):
            warnings.append("ignoring interface.defaultPrompt entry: expected a string")
            continue
        prompt = " ".join(item.split())
        if prompt and len(prompt) <= 128:
            prompts.append(prompt)
        else:
            warnings.append("ignoring interface.defaultPrompt entry: must be 1..128 characters")
    return tuple(prompts)


def _interface(raw: Any, warnings: list[str]) -> PluginInterface | None:
    if not isinstance(raw, dict):
        return None
    interface = PluginInterface(
        display_name=_opt_str(raw.get("displayName")),
        short_description=_opt_str(raw.get("shortDescription")),
        long_description=_opt_str(raw.get("longDescription")),
        developer_name=_opt_str(raw.get("developerName")),
        category=_opt_str(raw.get("category")),
        capabilities=_str_list(raw.get("capabilities")),
        website_url=_opt_str(raw.get("websiteUrl", raw.get("websiteURL"))),
        default_prompts=_default_prompts(raw.get("defaultPrompt"), warnings),
        brand_color=_opt_str(raw.get("brandColor")),
    )
    return None if interface == PluginInterface() else interface


_STRING_FIELDS = ("name", "version", "description", "apps")
_INTERFACE_STRING_FIELDS = (
    "displayName", "shortDescription", "longDescription", "developerName", "category",
    "websiteUrl", "websiteURL", "privacyPolicyUrl", "termsOfServiceUrl", "brandColor",
    "composerIcon", "logo", "logoDark",
)


def _check_types(raw: dict[str, Any]) -> None:
    """Typed fields of the wrong JSON type fail the manifest, as serde does in the reference."""
    for key in _STRING_FIELDS:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ManifestError(f"invalid type for `{key}`: expected a string")
    keywords = raw.get("keywords")
    if keywords is not None and not (isinstance(keywords, list) and all(isinstance(k, str) for k in keywords)):
        raise ManifestError("invalid type for `keywords`: expected a sequence of strings")
    interface = raw.get("interface")
    if interface is None:
        return
    if not isinstance(interface, dict):
        raise ManifestError("invalid type for `interface`: expected an object")
    for key in _INTERFACE_STRING_FIELDS:
        if interface.get(key) is not None and not isinstance(interface[key], str):
            raise ManifestError(f"invalid type for `interface.{key}`: expected a string")


def parse_manifest(root: PathUri, contents: str | bytes) -> PluginManifest:
    """Parse ``plugin.json`` for the plugin rooted at ``root``. Raises :class:`ManifestError`."""
    try:
        raw = json.loads(contents)
    except (ValueError, UnicodeDecodeError) as err:
        raise ManifestError(str(err)) from err
    if not isinstance(raw, dict):
        raise ManifestError("plugin manifest must be a JSON object")
    _check_types(raw)
    warnings: list[str] = []
    name = raw.get("name") or ""
    if not name.strip():
        name = root.basename or name
    version = raw.get("version")
    version = version.strip() or None if isinstance(version, str) else None

    mcp_raw = raw.get("mcpServers")
    mcp_servers: PathUri | dict[str, Any] | None
    if mcp_raw is None:
        mcp_servers = None
    elif isinstance(mcp_raw, str):
        mcp_servers = resolve_manifest_path(root, "mcpServers", mcp_raw, warnings)
    elif isinstance(mcp_raw, dict):
        mcp_servers = mcp_raw
    else:
        warnings.append(f"ignoring mcpServers: expected a string or object; found {type(mcp_raw).__name__}")
        mcp_servers = None

    skills_raw = raw.get("skills")
    skill_values = [skills_raw] if isinstance(skills_raw, str) else skills_raw if isinstance(skills_raw, list) else []
    resolved = (resolve_manifest_path(root, "skills", v, warnings) for v in skill_values)
    skills = tuple(p for p in resolved if p is not None)

    manifest = PluginManifest(
        name=name,
        version=version,
        description=_opt_str(raw.get("description")),
        keywords=_str_list(raw.get("keywords")),
        skills=skills,
        mcp_servers=mcp_servers,
        apps=resolve_manifest_path(root, "apps", raw.get("apps"), warnings),
        interface=_interface(raw.get("interface"), warnings),
        warnings=tuple(warnings),
    )
    for warning in warnings:
        log.warning("plugin manifest under %s: %s", root, warning)
    return manifest


def skill_directories(root: PathUri, manifest: PluginManifest) -> tuple[PathUri, ...]:
    """Where skills live: the declared ``skills`` paths, else ``<root>/skills``."""
    return manifest.skills or (root.join(DEFAULT_SKILLS_DIR),)
