"""A plugin's MCP declarations (``.mcp.json``, a declared file or an inline object), spec §4.3.

Every server of a selected root is *placed* in the root's environment: ``environment_id`` is
forced, a stdio server's ``cwd`` defaults to (and must stay inside) the plugin root, and secrets
that only the executor may read are never resolved on the orchestrator. A bad server is an error
value for that server only; its valid siblings survive. Only a malformed document fails as a whole.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from rootstep.config.mcp_servers import EnvVar, HttpTransport, McpServerConfig
from rootstep.protocol.path_uri import PathUri, PathUriError

log = logging.getLogger(__name__)

LOCAL_ENVIRONMENT_ID = "local"
DEFAULT_MCP_CONFIG_FILE = ".mcp.json"
_KNOWN_TRANSPORT_TYPES = frozenset({"http", "streamable_http", "streamable-http", "stdio"})


class McpConfigError(ValueError):
    """The document is not JSON, or not one of the two accepted shapes."""


@dataclass(frozen=True)
class ServerParseError:
    name: str
    message: str


@dataclass(frozen=True)
class McpParseOutcome:
    """Valid servers in name order, plus one error per rejected server."""

    servers: dict[str, McpServerConfig] = field(default_factory=dict)
    errors: tuple[ServerParseError, ...] = ()


def _server_map(document: Any) -> dict[str, Any]:
    """``{"mcpServers": {...}, ...}`` or a bare ``{name: server}`` map."""
    if not isinstance(document, dict):
        raise McpConfigError("expected a JSON object of MCP servers")
    wrapped = document.get("mcpServers")
    if isinstance(wrapped, dict):
        return wrapped
    return document


def _normalize(value: Any, root: PathUri) -> dict[str, Any]:
    """Drop the cosmetic ``type`` key and the per-plugin OAuth callback port; accept ``clientId``."""
    if not isinstance(value, dict):
        return {}
    obj = dict(value)
    transport_type = obj.pop("type", None)
    if isinstance(transport_type, str) and transport_type not in _KNOWN_TRANSPORT_TYPES:
        log.warning("plugin %s: MCP server uses an unknown transport type %r", root, transport_type)
    oauth = obj.pop("oauth", None)
    if isinstance(oauth, dict):
        oauth = dict(oauth)
        if oauth.pop("callbackPort", None) is not None:
            log.warning("plugin %s: MCP server OAuth callbackPort is ignored; global callback settings apply", root)
        if "clientId" in oauth:
            client_id = oauth.pop("clientId")
            oauth.setdefault("client_id", client_id)
        if oauth:
            obj["oauth"] = oauth
    return obj


def _placed_cwd(root: PathUri, configured: str | None) -> str:
    """The server's cwd as a native path on the environment side; never outside the root."""
    if configured is None:
        return root.to_native()
    try:
        cwd = PathUri.parse(configured) if configured.lower().startswith("file:") else root.join(configured)
    except PathUriError as err:
        raise ValueError(f"invalid cwd `{configured}`: {err}") from err
    if not cwd.starts_with(root):
        raise ValueError(f"cwd `{configured}` must remain within plugin root `{root}`")
    return cwd.to_native()


def _bind_env_references(config: McpServerConfig) -> McpServerConfig:
    """Decide which process's environment each secret is read from (spec §4.3 steps 3–4)."""
    local = config.environment_id == LOCAL_ENVIRONMENT_ID
    transport = config.transport
    if isinstance(transport, HttpTransport):
        if local:
            return config
        if transport.bearer_token_env_var is not None:
            raise ValueError(
                "`bearer_token_env_var` requires executor-side environment resolution for an executor-owned HTTP MCP"
            )
        if transport.env_http_headers:
            raise ValueError(
                "`env_http_headers` requires executor-side environment resolution for an executor-owned HTTP MCP"
            )
        return config
    bound: list[EnvVar] = []
    for var in transport.env_vars:
        if local and var.source == "remote":
            raise ValueError(f"env_vars entry `{var.name}` cannot use source `remote` in a local environment")
        if not local and var.source == "local":
            raise ValueError(f"env_vars entry `{var.name}` cannot use source `local` in an executor-owned plugin")
        bound.append(var if local else EnvVar(name=var.name, source="remote"))
    return config.model_copy(update={"transport": transport.model_copy(update={"env_vars": tuple(bound)})})


def _error_text(err: Exception) -> str:
    if isinstance(err, ValidationError):
        messages = []
        for item in err.errors():
            msg = str(item.get("msg", ""))
            messages.append(msg.removeprefix("Value error, "))
        return "; ".join(messages)
    return str(err)


def normalize_server(value: Any, root: PathUri, environment_id: str) -> McpServerConfig:
    """One server placed in the plugin's environment. Raises ValueError with a user-facing reason."""
    obj = _normalize(value, root)
    obj["environment_id"] = environment_id
    if "command" in obj:
        cwd = obj.pop("cwd", None)
        if cwd is None or isinstance(cwd, str):
            obj["cwd"] = _placed_cwd(root, cwd)
        else:
            obj["cwd"] = cwd  # wrong type: let the config model report it
    try:
        config = McpServerConfig.from_toml(obj)
    except (ValidationError, ValueError) as err:
        raise ValueError(_error_text(err)) from err
    return _bind_env_references(config)


def parse_executor_plugin_mcp_config(
    root: PathUri, contents: str | bytes | dict[str, Any], environment_id: str
) -> McpParseOutcome:
    """Parse a plugin MCP document for the root at ``root`` living in ``environment_id``.

    ``contents`` is the file text, or the manifest's inline object. Raises
    :class:`McpConfigError` when the document as a whole is unusable.
    """
    if isinstance(contents, dict):
        document: Any = contents
    else:
        try:
            document = json.loads(contents)
        except (ValueError, UnicodeDecodeError) as err:
            raise McpConfigError(str(err)) from err
    servers: dict[str, McpServerConfig] = {}
    errors: list[ServerParseError] = []
    for name, value in sorted(_server_map(document).items()):
        try:
            servers[name] = normalize_server(value, root, environment_id)
        except ValueError as err:
            errors.append(ServerParseError(name, str(err)))
    return McpParseOutcome(servers, tuple(errors))
