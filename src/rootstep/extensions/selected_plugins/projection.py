"""One step's projection: ready roots × cached metadata → contributions → resolved catalog.

Pure functions (spec §5.4–5.6). The inputs are the step's *ready* roots in order, each paired
with its cached :class:`~rootstep.plugins.PluginPackage` (or None for "not a plugin" / failed),
the managed requirements, ``config.toml`` servers and any extension overlays (hosted apps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.config.requirements import EMPTY_REQUIREMENTS, Requirements
from rootstep.extensions.selected_plugins.catalog import (
    McpCatalogBuilder,
    ResolvedMcpCatalog,
)
from rootstep.plugins.discovery import PluginPackage
from rootstep.protocol.capabilities import SelectedCapabilityRoot


@dataclass(frozen=True, slots=True)
class SelectedPluginServer:
    """One MCP server of a ready selected root, after requirements."""

    name: str
    plugin_id: str
    plugin_display_name: str
    selection_order: int  # index among the step's READY roots
    config: McpServerConfig


@dataclass(frozen=True, slots=True)
class SelectedPluginPackage:
    """Emitted for every ready plugin root, even one with no servers or connectors."""

    plugin_id: str
    plugin_display_name: str
    connector_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetServer:
    """An extension overlay registering ``name`` (e.g. the hosted apps server)."""

    name: str
    config: McpServerConfig
    contributor: str


@dataclass(frozen=True, slots=True)
class RemoveServer:
    name: str
    contributor: str


Contribution = SelectedPluginServer | SelectedPluginPackage
Overlay = SetServer | RemoveServer


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    """A host-installed plugin (tier Plugin). rootstep has none yet; kept for the precedence table."""

    plugin_id: str
    display_name: str
    servers: Mapping[str, McpServerConfig]


@dataclass(frozen=True, slots=True)
class ConnectorSource:
    plugin_id: str
    display_name: str
    connector_ids: tuple[str, ...]


@dataclass(frozen=True)
class McpProjection:
    """What a runtime is built from: the resolved catalog, connector attribution, plugin presence."""

    catalog: ResolvedMcpCatalog
    connector_sources: tuple[ConnectorSource, ...] = ()
    plugins_available: bool = False

    def connector_plugin_names(self) -> dict[str, tuple[str, ...]]:
        """``connector id → sorted unique plugin display names`` (provenance of connector tools)."""
        names: dict[str, set[str]] = {}
        for source in self.connector_sources:
            for connector_id in source.connector_ids:
                names.setdefault(connector_id, set()).add(source.display_name)
        return {cid: tuple(sorted(n)) for cid, n in names.items()}


def project_ready_roots(
    ready: Sequence[tuple[SelectedCapabilityRoot, PluginPackage | None]],
    requirements: Requirements = EMPTY_REQUIREMENTS,
) -> tuple[Contribution, ...]:
    """Contributions in selection order; per root its servers sorted by name, then its package."""
    out: list[Contribution] = []
    for selection_order, (_root, package) in enumerate(ready):
        if package is None:
            continue
        servers = requirements.apply_to_plugin_servers(package.plugin_id, dict(package.servers))
        for name in sorted(servers):
            out.append(
                SelectedPluginServer(name, package.plugin_id, package.display_name, selection_order, servers[name])
            )
        out.append(SelectedPluginPackage(package.plugin_id, package.display_name, package.connector_ids))
    return tuple(out)


def build_projection(
    contributions: Iterable[Contribution],
    config_servers: Mapping[str, McpServerConfig] | Iterable[tuple[str, McpServerConfig]] = (),
    *,
    overlays: Sequence[Overlay] = (),
    installed: Sequence[InstalledPlugin] = (),
    requirements: Requirements = EMPTY_REQUIREMENTS,
) -> McpProjection:
    """Resolve everything by the precedence table (spec §5.6), in registration order:
    installed plugins, selected plugins, ``config.toml`` servers, then extension overlays.

    ``config_servers`` are expected to have had the ``[mcp_servers]`` requirements applied
    already (``Requirements.apply_to_config_servers``), as config loading does.
    """
    builder = McpCatalogBuilder()
    connector_sources: list[ConnectorSource] = []
    plugins_available = False
    for order, plugin in enumerate(installed):
        servers = requirements.apply_to_plugin_servers(plugin.plugin_id, plugin.servers)
        for name, config in servers.items():
            builder.register_plugin(name, plugin.plugin_id, plugin.display_name, order, config)
        plugins_available = True
    for contribution in contributions:
        if isinstance(contribution, SelectedPluginServer):
            builder.register_selected_plugin(
                contribution.name,
                contribution.plugin_id,
                contribution.plugin_display_name,
                contribution.selection_order,
                contribution.config,
            )
        else:
            plugins_available = True
            if contribution.connector_ids:
                connector_sources.append(
                    ConnectorSource(
                        contribution.plugin_id, contribution.plugin_display_name, contribution.connector_ids
                    )
                )
    items = config_servers.items() if isinstance(config_servers, Mapping) else config_servers
    for name, config in items:
        builder.register_config(name, config)
    for order, overlay in enumerate(overlays):
        if isinstance(overlay, SetServer):
            builder.register_extension(overlay.name, overlay.contributor, order, overlay.config)
        else:
            builder.remove_extension(overlay.name, overlay.contributor, order)
    return McpProjection(builder.build(), tuple(connector_sources), plugins_available)
