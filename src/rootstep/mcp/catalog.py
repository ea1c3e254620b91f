"""A step's MCP tool catalog: what ready servers listed → the model-visible, routable tools.

Pure and free of the MCP SDK (tool objects are only read), so the layers that shape a catalog
(connectors, stable names) need nothing loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rootstep.mcp.tools import ToolInfo, namespace_tools, normalize_tools_for_model, tool_is_model_visible

if TYPE_CHECKING:
    import mcp_types as types


@dataclass(frozen=True)
class ServerProvenance:
    """Which plugin contributed a server (spec §6.6); empty for config.toml servers."""

    plugin_id: str | None = None
    display_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListedServer:
    """What a ready server told us at startup."""

    tools: tuple[types.Tool, ...]
    instructions: str | None = None


@dataclass(frozen=True)
class ToolCatalog:
    """The model-visible tools of one step and the way back to (server, raw tool)."""

    tools: tuple[ToolInfo, ...] = ()
    _index: dict[tuple[str, str], ToolInfo] = field(default_factory=dict, compare=False)

    def route(self, namespace: str | None, name: str) -> ToolInfo | None:
        if namespace is None:
            return None
        return self._index.get((namespace, name))

    def model_tools(self) -> list[dict[str, Any]]:
        return namespace_tools(self.tools)

    def find(self, server: str, raw_tool: str) -> ToolInfo | None:
        for info in self.tools:
            if info.server == server and info.tool.name == raw_tool:
                return info
        return None


def build_catalog(
    listed: Mapping[str, ListedServer],
    provenance: Mapping[str, ServerProvenance] | None = None,
    *,
    prefix: bool = True,
) -> ToolCatalog:
    """Pure: listed tools of ready servers → normalized, routable catalog (spec §6.1–6.2)."""
    provenance = provenance or {}
    infos = []
    for server in sorted(listed):
        entry = listed[server]
        origin = provenance.get(server, ServerProvenance())
        description = (entry.instructions or "").strip() or None
        for tool in entry.tools:
            if not tool_is_model_visible(tool):
                continue
            infos.append(
                ToolInfo(
                    server=server,
                    tool=tool,
                    callable_namespace=server,
                    callable_name=tool.name,
                    namespace_description=description,
                    plugin_id=origin.plugin_id,
                    plugin_display_names=origin.display_names,
                )
            )
    tools = tuple(normalize_tools_for_model(infos, prefix=prefix))
    return ToolCatalog(tools=tools, _index={t.model_name: t for t in tools})
