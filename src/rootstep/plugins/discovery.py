"""Resolve a selected capability root as a plugin package (spec §4, §5.2–5.3).

Two ways in, one result type:

* :func:`discover_plugin` reads the files through the root's :class:`Environment` (metadata
  probes and file reads, the per-file path);
* :func:`plugin_from_discovery` builds the same :class:`PluginPackage` from one entry of an
  exec-server ``capabilityRoots/discoverV1`` result (the batch path).

Both give equal packages for the same files, under the same limits: regular files only, 1 MiB a
file and 16 MiB a root, never a file that resolves outside the root. Failures are values: a broken declaration file is a
warning and an empty list; only *resolution* failures (environment unreachable, unreadable root,
bad manifest) raise :class:`PluginResolutionError`, which callers must not cache.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from rootstep.bounded_read import FileTooLarge, NotARegularFile
from rootstep.config.mcp_servers import McpServerConfig
from rootstep.environments.base import Environment
from rootstep.environments.discovery import MAX_BUNDLE_BYTES, MAX_FILE_BYTES
from rootstep.plugins.app_config import AppConfigError, parse_plugin_app_config
from rootstep.plugins.manifest import MANIFEST_PATHS, ManifestError, PluginManifest, parse_manifest, skill_directories
from rootstep.plugins.mcp_config import (
    DEFAULT_MCP_CONFIG_FILE,
    McpConfigError,
    McpParseOutcome,
    parse_executor_plugin_mcp_config,
)
from rootstep.plugins.skills import SKILL_FILE, PluginSkill, SkillParseError, is_skill_file_under, parse_skill
from rootstep.protocol.path_uri import PathUri, PathUriError

log = logging.getLogger(__name__)


class PluginResolutionError(Exception):
    """The root could not be resolved this time (retry at a later step; never cached)."""


@dataclass(frozen=True)
class PluginPackage:
    """Everything a selected root contributes, read once and frozen.

    ``servers`` are already placed in the root's environment, in name order. ``plugin_id`` is the
    selected root's id, never the manifest name.
    """

    plugin_id: str
    environment_id: str
    root: PathUri
    manifest_path: PathUri
    manifest: PluginManifest
    servers: tuple[tuple[str, McpServerConfig], ...] = ()
    connector_ids: tuple[str, ...] = ()
    skills: tuple[PluginSkill, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def display_name(self) -> str:
        return self.manifest.display_name


# ----------------------------------------------------------------------------- shared helpers


def _decode(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8")


def _servers_from(
    outcome_or_error: McpParseOutcome, plugin_id: str, warnings: list[str]
) -> tuple[tuple[str, McpServerConfig], ...]:
    for error in outcome_or_error.errors:
        warnings.append(f"ignoring invalid MCP server `{error.name}` of plugin `{plugin_id}`: {error.message}")
    return tuple(outcome_or_error.servers.items())


def _parse_servers(
    root: PathUri,
    contents: str | dict[str, Any],
    environment_id: str,
    plugin_id: str,
    path: PathUri,
    warnings: list[str],
) -> tuple[tuple[str, McpServerConfig], ...]:
    try:
        outcome = parse_executor_plugin_mcp_config(root, contents, environment_id)
    except McpConfigError as err:
        warnings.append(f"failed to parse MCP config for selected plugin `{plugin_id}` at `{path}`: {err}")
        return ()
    return _servers_from(outcome, plugin_id, warnings)


def _parse_connectors(contents: str, plugin_id: str, path: PathUri, warnings: list[str]) -> tuple[str, ...]:
    try:
        return tuple(d.connector_id for d in parse_plugin_app_config(contents))
    except AppConfigError as err:
        warnings.append(f"failed to parse app config for selected plugin `{plugin_id}` at `{path}`: {err}")
        return ()


def _sorted_skills(skills: list[PluginSkill]) -> tuple[PluginSkill, ...]:
    return tuple(sorted(skills, key=lambda s: (s.name, str(s.path))))


def _finish(package: PluginPackage) -> PluginPackage:
    for warning in package.warnings:
        log.warning("selected root `%s`: %s", package.plugin_id, warning)
    return package


# ----------------------------------------------------------------------------- filesystem path


class BundleTooLarge(OSError):
    """The root's files together exceed :data:`MAX_BUNDLE_BYTES`."""

    def __init__(self) -> None:
        super().__init__(errno.EFBIG, f"capability root bundle exceeds the {MAX_BUNDLE_BYTES}-byte limit")

    def __str__(self) -> str:
        return self.strerror or super().__str__()


@dataclass
class _Budget:
    """What one root may still read: the limits ``capabilityRoots/discoverV1`` applies (1 MiB a
    file, 16 MiB a root), so both resolution paths accept the same plugins."""

    remaining: int = MAX_BUNDLE_BYTES

    def take(self, path: str, size: int) -> None:
        if size > MAX_FILE_BYTES:
            raise FileTooLarge(path, MAX_FILE_BYTES)
        if size > self.remaining:
            raise BundleTooLarge()
        self.remaining -= size


async def _read_text(env: Environment, path: PathUri, budget: _Budget) -> str:
    """A plugin file through its environment: a regular file within the budget, or an OSError.

    The metadata probe refuses a link to ``/dev/zero``, a FIFO or a huge sparse file before any
    byte is read; the environment's own read is bounded too (regular files only, 512 MiB), so a
    file swapped in between cannot make it unbounded."""
    native = path.to_native()
    meta = await env.get_metadata(native)
    if meta is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", native)
    if not meta.is_file:
        raise NotARegularFile(native, "directory" if meta.is_directory else "special file")
    budget.take(native, meta.size)
    data = await env.read_file(native)
    if len(data) > MAX_FILE_BYTES:
        raise FileTooLarge(native, MAX_FILE_BYTES)
    if len(data) > meta.size:  # it grew since the probe: charge the difference too
        budget.take(native, len(data) - meta.size)
    return _decode(data)


async def _real_root(env: Environment, root: PathUri) -> PathUri | None:
    """``root`` with symlinks resolved in its environment; None when that cannot be known (an
    environment without ``canonicalize``, or a root whose own failure its reads will report)."""
    canonicalize = getattr(env, "canonicalize", None)
    if canonicalize is None:
        return None
    try:
        return PathUri.from_native(await canonicalize(root.to_native()))
    except Exception:  # noqa: BLE001
        return None


async def _inside(env: Environment, real_root: PathUri | None, path: PathUri) -> bool:
    """Whether ``path`` with symlinks resolved stays inside ``real_root``. The manifest rule is
    lexical; a symlink inside the root can still point anywhere. A path that does not exist is
    inside (reading it reports that)."""
    if real_root is None:
        return True
    try:
        real = PathUri.from_native(await env.canonicalize(path.to_native()))  # type: ignore[attr-defined]
    except FileNotFoundError:
        return True
    except Exception:  # noqa: BLE001 - e.g. a dangling link: not readable, so not inside
        return False
    return real.starts_with(real_root)


async def _resolves_within(env: Environment, root: PathUri, path: PathUri) -> bool:
    return await _inside(env, await _real_root(env, root), path)


async def _find_manifest(env: Environment, root_id: str, root: PathUri) -> PathUri | None:
    try:
        meta = await env.get_metadata(root.to_native())
    except Exception as err:  # noqa: BLE001 - any environment failure is a resolution error
        raise PluginResolutionError(f"failed to inspect selected capability root `{root_id}` at {root}: {err}") from err
    if meta is None:
        raise PluginResolutionError(
            f"failed to inspect selected capability root `{root_id}` at {root}: No such file or directory"
        )
    if not meta.is_directory:
        raise PluginResolutionError(f"selected capability root `{root_id}` path {root} is not a directory")
    for relative in MANIFEST_PATHS:
        candidate = root.join(relative)
        try:
            candidate_meta = await env.get_metadata(candidate.to_native())
        except Exception as err:  # noqa: BLE001
            raise PluginResolutionError(
                f"failed to inspect plugin manifest for `{root_id}` at {candidate}: {err}"
            ) from err
        if candidate_meta is not None and candidate_meta.is_file:
            if not await _resolves_within(env, root, candidate):
                # A manifest linked from elsewhere would put another file's text in front of the
                # model: the root is not a plugin.
                log.warning(
                    "selected root `%s`: ignoring plugin manifest %s: it resolves outside the root", root_id, candidate
                )
                return None
            return candidate
    return None


async def _load_servers(
    env: Environment, plugin_id: str, environment_id: str, root: PathUri, manifest: PluginManifest,
    manifest_path: PathUri, warnings: list[str], budget: _Budget,
) -> tuple[tuple[str, McpServerConfig], ...]:
    declared = manifest.mcp_servers
    if isinstance(declared, dict):
        return _parse_servers(root, declared, environment_id, plugin_id, manifest_path, warnings)
    path = declared if isinstance(declared, PathUri) else root.join(DEFAULT_MCP_CONFIG_FILE)
    if isinstance(declared, PathUri) and not await _resolves_within(env, root, declared):
        # A symlink inside the root pointing elsewhere: ignored like a lexical escape, the
        # root's own .mcp.json applies.
        warnings.append(f"ignoring mcpServers of selected plugin `{plugin_id}`: `{declared}` resolves outside the root")
        declared, path = None, root.join(DEFAULT_MCP_CONFIG_FILE)
    if declared is None and not await _resolves_within(env, root, path):
        warnings.append(f"ignoring `{path}` of selected plugin `{plugin_id}`: it resolves outside the root")
        return ()
    try:
        contents = await _read_text(env, path, budget)
    except FileNotFoundError as err:
        if declared is None:
            return ()  # no .mcp.json: simply no servers
        warnings.append(f"failed to read MCP config for selected plugin `{plugin_id}` at `{path}`: {err}")
        return ()
    except Exception as err:  # noqa: BLE001
        warnings.append(f"failed to read MCP config for selected plugin `{plugin_id}` at `{path}`: {err}")
        return ()
    return _parse_servers(root, contents, environment_id, plugin_id, path, warnings)


async def _load_connectors(
    env: Environment, plugin_id: str, root: PathUri, manifest: PluginManifest, warnings: list[str], budget: _Budget
) -> tuple[str, ...]:
    if manifest.apps is None:
        return ()  # connectors are read only when declared
    if not await _resolves_within(env, root, manifest.apps):
        warnings.append(f"ignoring apps of selected plugin `{plugin_id}`: `{manifest.apps}` resolves outside the root")
        return ()
    try:
        contents = await _read_text(env, manifest.apps, budget)
    except Exception as err:  # noqa: BLE001
        warnings.append(f"failed to read app config for selected plugin `{plugin_id}` at `{manifest.apps}`: {err}")
        return ()
    return _parse_connectors(contents, plugin_id, manifest.apps, warnings)


async def _load_skills(
    env: Environment, root: PathUri, manifest: PluginManifest, warnings: list[str], budget: _Budget
) -> tuple[PluginSkill, ...]:
    skills: list[PluginSkill] = []
    real_root = await _real_root(env, root)
    for directory in skill_directories(root, manifest):
        try:
            meta = await env.get_metadata(directory.to_native())
            if meta is None or not meta.is_directory:
                continue
            entries = await env.read_directory(directory.to_native())
        except Exception as err:  # noqa: BLE001
            warnings.append(f"failed to list skills in {directory}: {err}")
            continue
        for entry_name, entry_meta in sorted(entries, key=lambda e: e[0]):
            if not entry_meta.is_directory:
                continue
            path = directory.join(entry_name).join(SKILL_FILE)
            if not await _inside(env, real_root, path):
                warnings.append(f"ignoring environment skill at {path}: it resolves outside the root")
                continue
            try:
                contents = await _read_text(env, path, budget)
            except FileNotFoundError:
                continue
            except Exception as err:  # noqa: BLE001
                warnings.append(f"Failed to load environment skill at {path}: failed to read file: {err}")
                continue
            try:
                skills.append(parse_skill(contents, path, manifest.name))
            except SkillParseError as err:
                warnings.append(f"Failed to load environment skill at {path}: {err}")
    return _sorted_skills(skills)


async def discover_plugin(env: Environment, root_id: str, environment_id: str, root: PathUri) -> PluginPackage | None:
    """Resolve ``root`` through ``env``'s filesystem.

    Returns None when the root has no manifest ("not a plugin"). Raises
    :class:`PluginResolutionError` when the root or its manifest cannot be read or parsed.
    MCP declarations, connector declarations and skills are read concurrently, so a remote
    environment pays for the slowest read instead of all of them back to back.
    """
    manifest_path = await _find_manifest(env, root_id, root)
    if manifest_path is None:
        return None
    budget = _Budget()
    try:
        manifest_text = await _read_text(env, manifest_path, budget)
    except Exception as err:  # noqa: BLE001
        raise PluginResolutionError(
            f"failed to read plugin manifest for `{root_id}` at {manifest_path}: {err}"
        ) from err
    try:
        manifest = parse_manifest(root, manifest_text)
    except ManifestError as err:
        raise PluginResolutionError(
            f"failed to parse plugin manifest for `{root_id}` at {manifest_path}: {err}"
        ) from err

    warnings: list[str] = list(manifest.warnings)
    results: dict[str, Any] = {}

    async def servers() -> None:
        results["servers"] = await _load_servers(
            env, root_id, environment_id, root, manifest, manifest_path, warnings, budget
        )

    async def connectors() -> None:
        results["connectors"] = await _load_connectors(env, root_id, root, manifest, warnings, budget)

    async def skills() -> None:
        results["skills"] = await _load_skills(env, root, manifest, warnings, budget)

    async with anyio.create_task_group() as tg:
        tg.start_soon(servers)
        tg.start_soon(connectors)
        tg.start_soon(skills)

    return _finish(
        PluginPackage(
            plugin_id=root_id,
            environment_id=environment_id,
            root=root,
            manifest_path=manifest_path,
            manifest=manifest,
            servers=results["servers"],
            connector_ids=results["connectors"],
            skills=results["skills"],
            warnings=tuple(warnings),
        )
    )


# ----------------------------------------------------------------------------- discoverV1 path


def _bundle_file(value: Any) -> tuple[PathUri, str] | None:
    if not isinstance(value, Mapping):
        return None
    try:
        return PathUri.parse(str(value.get("path", ""))), str(value.get("contents", ""))
    except PathUriError:
        return None


def plugin_from_discovery(root_id: str, environment_id: str, bundle: Mapping[str, Any]) -> PluginPackage | None:
    """Build the package from one ``capabilityRoots/discoverV1`` root entry (wire dict).

    An ``error``, a missing ``plugin`` or an unparsable manifest gives None (with a warning): the
    batch cache memoizes those for the thread, as the reference does.
    """
    for warning in bundle.get("warnings") or ():
        log.warning("selected root `%s`: exec-server capability discovery warning: %s", root_id, warning)
    if bundle.get("error"):
        log.warning("selected root `%s`: exec-server capability discovery failed: %s", root_id, bundle["error"])
        return None
    plugin_files = bundle.get("plugin")
    if not isinstance(plugin_files, Mapping):
        return None
    manifest_file = _bundle_file(plugin_files.get("manifest"))
    try:
        root = PathUri.parse(str(bundle.get("path", "")))
    except PathUriError as err:
        log.warning("selected root `%s`: discovery returned an invalid root path: %s", root_id, err)
        return None
    if manifest_file is None:
        return None
    manifest_path, manifest_text = manifest_file
    try:
        manifest = parse_manifest(root, manifest_text)
    except ManifestError as err:
        log.warning(
            "selected root `%s`: failed to parse discovered plugin manifest at %s: %s", root_id, manifest_path, err
        )
        return None

    warnings: list[str] = list(manifest.warnings)
    mcp_file = _bundle_file(plugin_files.get("mcpConfig"))
    declared = manifest.mcp_servers
    servers: tuple[tuple[str, McpServerConfig], ...] = ()
    if isinstance(declared, dict):
        servers = _parse_servers(root, declared, environment_id, root_id, manifest_path, warnings)
    elif isinstance(declared, PathUri):
        if mcp_file is not None and mcp_file[0] == declared:
            servers = _parse_servers(root, mcp_file[1], environment_id, root_id, declared, warnings)
        else:
            warnings.append(f"exec-server capability bundle omitted declared MCP config {declared}")
    elif mcp_file is not None:
        servers = _parse_servers(root, mcp_file[1], environment_id, root_id, mcp_file[0], warnings)

    connector_ids: tuple[str, ...] = ()
    if manifest.apps is not None:
        apps_file = _bundle_file(plugin_files.get("appsConfig"))
        if apps_file is not None and apps_file[0] == manifest.apps:
            connector_ids = _parse_connectors(apps_file[1], root_id, manifest.apps, warnings)
        else:
            warnings.append(f"exec-server capability bundle omitted declared connector config {manifest.apps}")

    skill_dirs = skill_directories(root, manifest)
    skills: list[PluginSkill] = []
    for entry in bundle.get("skills") or ():
        instructions = _bundle_file(entry.get("instructions") if isinstance(entry, Mapping) else None)
        if instructions is None or not is_skill_file_under(instructions[0], skill_dirs):
            continue
        try:
            skills.append(parse_skill(instructions[1], instructions[0], manifest.name))
        except SkillParseError as err:
            warnings.append(f"Failed to load environment skill at {instructions[0]}: {err}")

    return _finish(
        PluginPackage(
            plugin_id=root_id,
            environment_id=environment_id,
            root=root,
            manifest_path=manifest_path,
            manifest=manifest,
            servers=servers,
            connector_ids=connector_ids,
            skills=_sorted_skills(skills),
            warnings=tuple(warnings),
        )
    )
