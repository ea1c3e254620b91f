"""Hosted apps (connectors): the host-owned ``codex_apps`` MCP server and connector tools
(spec §6.6).

* With the ``apps`` feature and ChatGPT auth in ``$CODEX_HOME/auth.json``, the extension
  overlay registers ``codex_apps`` (streamable HTTP at
  ``<chatgpt_base_url>/…/ps/mcp`` with the bearer token and ``chatgpt-account-id``); otherwise
  it removes the name.
* Each ``codex_apps`` tool belongs to the connector named in its ``_meta`` (``connector_id``,
  ``connector_name``): namespace ``mcp__codex_apps__<connector>``, the callable name without a
  leading connector prefix.
* A ready selected root that declares the connector id in ``.app.json`` attributes the tool to
  its plugin (``This tool is part of plugin `X`.``) — only while that root is ready, since the
  connector sources are part of the step's projection.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rootstep.config.config import Config
from rootstep.config.mcp_servers import McpServerConfig
from rootstep.extensions.selected_plugins.projection import (
    McpProjection,
    Overlay,
    RemoveServer,
    SetServer,
)
from rootstep.mcp.catalog import ToolCatalog
from rootstep.mcp.tools import sanitize_name

log = logging.getLogger(__name__)

CODEX_APPS = "codex_apps"
CONTRIBUTOR = "hosted_plugin_runtime"
DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/"


def apps_url(chatgpt_base_url: str) -> str:
    """Where the hosted apps server lives for a ``chatgpt_base_url`` (pure)."""
    base = chatgpt_base_url.rstrip("/")
    if base in ("https://chatgpt.com", "https://chat.openai.com"):
        base += "/backend-api"
    if "/backend-api" in base or "/api/codex" in base:
        return f"{base}/ps/mcp"
    return f"{base}/api/codex/ps/mcp"


def connector_namespace_name(connector_name: str) -> str:
    """``Google Calendar`` → ``google_calendar`` (lowercase, non-alphanumerics → ``_``, trimmed)."""
    return re.sub(r"[^a-z0-9]+", "_", connector_name.lower()).strip("_") or "app"


def callable_tool_name(raw: str, connector_name: str, connector_id: str) -> str:
    """The tool's name without a leading connector-name or connector-id prefix."""
    name = sanitize_name(raw)
    for prefix in (connector_namespace_name(connector_name), sanitize_name(connector_id)):
        if prefix and name.lower().startswith(prefix + "_") and len(name) > len(prefix) + 1:
            return name[len(prefix) + 1 :]
    return name


@dataclass(frozen=True)
class ChatGptAuth:
    access_token: str
    account_id: str | None


def read_auth(codex_home: Path) -> ChatGptAuth | None:
    """ChatGPT tokens from ``auth.json`` (spec §3.8); None for API-key or missing auth."""
    try:
        data = json.loads((codex_home / "auth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str):
        return None
    account = tokens.get("account_id")
    return ChatGptAuth(tokens["access_token"], account if isinstance(account, str) else None)


@dataclass(frozen=True)
class HostedApps:
    """The hosted apps contributor of one thread's config."""

    server: McpServerConfig | None = None

    @classmethod
    def from_config(cls, config: Config) -> HostedApps:
        if not config.features.enabled("apps"):
            return cls()
        auth = read_auth(config.home)
        if auth is None:
            return cls()  # codex_apps needs ChatGPT auth
        base = config.raw.get("chatgpt_base_url")
        headers = {
            "Authorization": f"Bearer {auth.access_token}", "X-OpenAI-Product-Sku": "codex", "originator": "rootstep"
        }
        if auth.account_id:
            headers["chatgpt-account-id"] = auth.account_id
        url = apps_url(base if isinstance(base, str) and base else DEFAULT_CHATGPT_BASE_URL)
        try:
            server = McpServerConfig.from_toml({"url": url, "http_headers": headers})
        except ValueError as exc:
            log.warning("hosted apps server unavailable: %s", exc)
            return cls()
        return cls(server)

    def overlays(self) -> Sequence[Overlay]:
        if self.server is None:
            return (RemoveServer(CODEX_APPS, CONTRIBUTOR),)
        return (SetServer(CODEX_APPS, self.server, CONTRIBUTOR),)

    def catalog_hook(self, catalog: ToolCatalog, projection: McpProjection) -> ToolCatalog:
        return attribute_connectors(catalog, projection)


def attribute_connectors(catalog: ToolCatalog, projection: McpProjection) -> ToolCatalog:
    """Connector namespaces and plugin attribution for ``codex_apps`` tools (pure)."""
    plugin_names = projection.connector_plugin_names()
    infos = []
    changed = False
    for info in catalog.tools:
        meta = info.tool.meta or {}
        connector_id = meta.get("connector_id") if isinstance(meta, Mapping) else None
        if info.server != CODEX_APPS or not isinstance(connector_id, str):
            infos.append(info)
            continue
        raw_name = meta.get("connector_name")
        connector_name = raw_name if isinstance(raw_name, str) else connector_id
        info = replace(
            info,
            callable_namespace=f"mcp__{CODEX_APPS}__{connector_namespace_name(connector_name)}",
            callable_name=callable_tool_name(info.tool.name, connector_name, connector_id),
            namespace_description=f"Tools for working with {connector_name}.",
            connector_id=connector_id,
            plugin_display_names=plugin_names.get(connector_id, ()),
        )
        infos.append(info)
        changed = True
    if not changed:
        return catalog
    return ToolCatalog(tools=tuple(infos), _index={i.model_name: i for i in infos})
