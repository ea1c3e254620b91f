"""``capabilityRoots/discoverV1`` over the host filesystem (spec exec-server §2.6).

The executor only *materializes* files (manifest, MCP and apps configs, skills); parsing them
is the orchestrator's job. Used by the exec-server and by ``LocalEnvironment``.
"""

from __future__ import annotations

import json
import os
import posixpath

from rootstep.bounded_read import FileTooLarge, NotARegularFile, read_regular_file
from rootstep.environments import local_fs
from rootstep.protocol.exec_server import (
    CapabilityFile,
    CapabilityPlugin,
    CapabilityRootDiscovery,
    CapabilitySkill,
    path_to_uri,
)

MAX_ROOTS = 128
MAX_FILE_BYTES = 1024 * 1024
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
MANIFEST_DIRS = (".codex-plugin", ".claude-plugin", ".cursor-plugin")


class _Reader:
    """Reads files for one root, enforcing the per-file and per-root limits as warnings."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.total = 0
        self.over_budget = False

    def read(self, path: str) -> CapabilityFile | None:
        """The file as a bundle entry; None (with a warning when it matters) when it is absent,
        not a regular file (a link to ``/dev/zero``, a FIFO), too large, or over the budget."""
        uri = path_to_uri(path)
        try:
            data = read_regular_file(path, MAX_FILE_BYTES)
        except (FileNotFoundError, NotARegularFile):
            return None
        except FileTooLarge:
            self.warnings.append(f"capability file {uri} exceeds the {MAX_FILE_BYTES}-byte limit")
            return None
        except OSError as exc:
            self.warnings.append(f"failed to read capability file {uri}: {local_fs.os_error_text(exc)}")
            return None
        if self.total + len(data) > MAX_BUNDLE_BYTES:
            if not self.over_budget:
                self.warnings.append(f"capability root bundle exceeds the {MAX_BUNDLE_BYTES}-byte limit")
                self.over_budget = True
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.warnings.append(f"capability file {uri} is not valid UTF-8")
            return None
        self.total += len(data)
        return CapabilityFile(path=uri, contents=text)


def _manifest_in(directory: str) -> str | None:
    for name in MANIFEST_DIRS:
        candidate = os.path.join(directory, name, "plugin.json")
        if os.path.isfile(candidate):
            return candidate
    return None


def _declared_path(root: str, value: str, key: str, manifest_uri: str, warnings: list[str]) -> str | None:
    """A manifest-relative declaration: ``./x``, no ``..``, inside the root."""
    if not value.startswith("./"):
        warnings.append(f"ignoring {key} in {manifest_uri}: path must start with `./`")
        return None
    parts = value[2:].split("/")
    if ".." in parts:
        warnings.append(f"ignoring {key} in {manifest_uri}: path must not contain `..`")
        return None
    joined = posixpath.normpath(os.path.join(root, value[2:]))
    if not _within(root, joined):
        warnings.append(f"ignoring {key} in {manifest_uri}: path escapes the root")
        return None
    if not _resolves_within(root, joined):
        warnings.append(f"ignoring {key} in {manifest_uri}: path resolves outside the root (symlink)")
        return None
    return joined


def _within(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _resolves_within(root: str, path: str) -> bool:
    """Whether ``path``, symlinks followed, stays inside ``root`` (symlinks followed too).

    The lexical rule above cannot see a symlink inside the root that points elsewhere; reading
    through it would hand the orchestrator a file the plugin does not own."""
    return _within(os.path.realpath(root), os.path.realpath(path))


def discover_root(root_id: str, root_uri: str, root: str) -> CapabilityRootDiscovery:
    """Discover one root; failures are the per-root ``error`` string, never an exception."""
    result = CapabilityRootDiscovery(id=root_id, path=root_uri)
    try:
        meta = local_fs.metadata(root)
    except OSError as exc:
        result.error = f"failed to inspect capability root {root_uri}: {local_fs.os_error_text(exc)}"
        return result
    if not meta.is_directory:
        result.error = f"capability root {root_uri} is not a directory"
        return result
    root = os.path.normpath(root)
    warnings = result.warnings
    try:
        walked = local_fs.walk(
            root, max_depth=6, max_directories=2000, max_entries=20000, follow_directory_symlinks=True
        )
    except OSError as exc:
        result.error = f"failed to scan capability root {root_uri}: {local_fs.os_error_text(exc)}"
        return result
    for path, message in walked.errors:
        warnings.append(f"failed to scan capability path {path_to_uri(path)}: {message}")
    if walked.truncated:
        warnings.append(f"capability scan reached its traversal limit (root: {root_uri})")
    files = [p for p, kind in walked.entries if kind == "file"]
    skill_files = sorted((p for p in files if os.path.basename(p) == "SKILL.md"), key=path_to_uri)
    found_manifests = [
        p for p in files
        if os.path.basename(p) == "plugin.json" and os.path.basename(os.path.dirname(p)) in MANIFEST_DIRS
        and _resolves_within(root, p)
    ]

    reader = _Reader(warnings)
    root_manifest = _manifest_in(root)
    if root_manifest is not None and not _resolves_within(root, root_manifest):
        warnings.append(f"ignoring {path_to_uri(root_manifest)}: it resolves outside the root (symlink)")
        root_manifest = None
    namespace_manifest = root_manifest
    if namespace_manifest is None:
        parent = os.path.dirname(root)
        while namespace_manifest is None and parent != os.path.dirname(parent):
            namespace_manifest = _manifest_in(parent)
            parent = os.path.dirname(parent)
        if namespace_manifest is None:
            namespace_manifest = _manifest_in(parent)

    ns: list[CapabilityFile] = []
    if namespace_manifest is not None and (f := reader.read(namespace_manifest)) is not None:
        ns.append(f)
    own_root = os.path.dirname(os.path.dirname(namespace_manifest)) if namespace_manifest else None
    by_plugin_root: dict[str, str] = {}
    for manifest in found_manifests:
        plugin_root = os.path.dirname(os.path.dirname(manifest))
        if plugin_root == own_root:
            continue
        current = by_plugin_root.get(plugin_root)
        priority = MANIFEST_DIRS.index(os.path.basename(os.path.dirname(manifest)))
        if current is None or priority < MANIFEST_DIRS.index(os.path.basename(os.path.dirname(current))):
            by_plugin_root[plugin_root] = manifest
    for plugin_root in sorted(by_plugin_root, key=path_to_uri):
        if (f := reader.read(by_plugin_root[plugin_root])) is not None:
            ns.append(f)
    result.namespace_manifests = ns

    if root_manifest is not None:
        manifest_file = reader.read(root_manifest)
        if manifest_file is not None:
            try:
                declared = json.loads(manifest_file.contents)
            except ValueError:
                declared = None
            if not isinstance(declared, dict):
                declared = {}
            plugin = CapabilityPlugin(manifest=manifest_file)
            mcp = declared.get("mcpServers")
            mcp_path: str | None
            if isinstance(mcp, dict):
                mcp_path = None
            else:
                # An unusable declaration is warned about, then the default file applies.
                declared_mcp = (
                    _declared_path(root, mcp, "mcpServers", manifest_file.path, warnings)
                    if isinstance(mcp, str)
                    else None
                )
                mcp_path = declared_mcp or os.path.join(root, ".mcp.json")
                if not _resolves_within(root, mcp_path):
                    warnings.append(f"ignoring {path_to_uri(mcp_path)}: it resolves outside the root (symlink)")
                    mcp_path = None
            if mcp_path is not None:
                plugin.mcp_config = reader.read(mcp_path)
            apps = declared.get("apps")
            if isinstance(apps, str):
                apps_path = _declared_path(root, apps, "apps", manifest_file.path, warnings)
                if apps_path is not None:
                    plugin.apps_config = reader.read(apps_path)
            result.plugin = plugin

    for skill in skill_files:
        if not _resolves_within(root, skill):  # e.g. under a linked folder: not the plugin's text
            warnings.append(f"ignoring {path_to_uri(skill)}: it resolves outside the root (symlink)")
            continue
        instructions = reader.read(skill)
        if instructions is None:
            continue
        metadata_path = os.path.join(os.path.dirname(skill), "agents", "openai.yaml")
        metadata = reader.read(metadata_path) if _resolves_within(root, metadata_path) else None
        result.skills.append(CapabilitySkill(instructions=instructions, metadata=metadata))
    return result
