"""Which registration of a server name wins (spec §5.6; mirrors ``codex-mcp/src/catalog.rs``).

Registrations from every source are stable-sorted by precedence and the *last* one wins per
name. Tiers, low to high: installed plugins (earliest plugin wins), selected plugins (first
ready selected root wins), ``config.toml``, the legacy compatibility slot, extension overlays
(last contribution wins). A winning removal deletes the name. A disabled winner that is *not* a
selected-plugin registration becomes a persistent veto on the name for later overlays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rootstep.config.mcp_servers import McpServerConfig

log = logging.getLogger(__name__)

SourceKind = Literal["plugin", "selected_plugin", "config", "compatibility", "extension"]
_TIER: dict[SourceKind, int] = {"plugin": 0, "selected_plugin": 1, "config": 2, "compatibility": 3, "extension": 4}


@dataclass(frozen=True, slots=True)
class McpServerSource:
    """Who declared a registration. Plugin kinds carry the attribution used for provenance."""

    kind: SourceKind
    plugin_id: str | None = None
    display_name: str | None = None
    id: str | None = None  # compatibility / extension contributor id

    @classmethod
    def plugin(cls, plugin_id: str, display_name: str) -> McpServerSource:
        return cls("plugin", plugin_id, display_name)

    @classmethod
    def selected_plugin(cls, plugin_id: str, display_name: str) -> McpServerSource:
        return cls("selected_plugin", plugin_id, display_name)

    @classmethod
    def config(cls) -> McpServerSource:
        return cls("config")

    @classmethod
    def compatibility(cls, id: str) -> McpServerSource:
        return cls("compatibility", id=id)

    @classmethod
    def extension(cls, id: str) -> McpServerSource:
        return cls("extension", id=id)

    @property
    def is_name_veto_when_disabled(self) -> bool:
        # A selected package's policy applies to its own registration, not to a higher runtime
        # source that happens to use the same server name.
        return self.kind != "selected_plugin"


@dataclass(frozen=True, slots=True)
class _Action:
    name: str
    source: McpServerSource
    precedence: tuple[int, int]
    config: McpServerConfig | None  # None = removal

    @property
    def tier(self) -> int:
        return self.precedence[0]


@dataclass(frozen=True, slots=True)
class ResolvedMcpServer:
    source: McpServerSource
    config: McpServerConfig


@dataclass(frozen=True)
class ConflictAction:
    kind: Literal["register", "remove"]
    source: McpServerSource


@dataclass(frozen=True)
class McpServerConflict:
    """A same-tier collision on a name, and the final outcome after all tiers."""

    name: str
    outcome: ConflictAction
    contenders: tuple[ConflictAction, ...]


def _conflict_action(action: _Action) -> ConflictAction:
    return ConflictAction("remove" if action.config is None else "register", action.source)


@dataclass
class McpCatalogBuilder:
    """Collects registrations in order; :meth:`build` resolves them."""

    actions: list[_Action] = field(default_factory=list)
    disabled_names: set[str] = field(default_factory=set)

    def _push(
        self, name: str, source: McpServerSource, precedence: tuple[int, int], config: McpServerConfig | None
    ) -> None:
        self.actions.append(_Action(name, source, precedence, config))

    def register_plugin(
        self, name: str, plugin_id: str, display_name: str, plugin_order: int, config: McpServerConfig
    ) -> None:
        self._push(name, McpServerSource.plugin(plugin_id, display_name), (0, -plugin_order), config)

    def register_selected_plugin(
        self, name: str, plugin_id: str, display_name: str, selection_order: int, config: McpServerConfig
    ) -> None:
        self._push(name, McpServerSource.selected_plugin(plugin_id, display_name), (1, -selection_order), config)

    def register_config(self, name: str, config: McpServerConfig) -> None:
        self._push(name, McpServerSource.config(), (2, 0), config)

    def register_compatibility(self, name: str, id: str, config: McpServerConfig) -> None:
        self._push(name, McpServerSource.compatibility(id), (3, 0), config)

    def remove_compatibility(self, name: str, id: str) -> None:
        self._push(name, McpServerSource.compatibility(id), (3, 0), None)

    def register_extension(self, name: str, id: str, contribution_order: int, config: McpServerConfig) -> None:
        self._push(name, McpServerSource.extension(id), (4, contribution_order), config)

    def remove_extension(self, name: str, id: str, contribution_order: int) -> None:
        self._push(name, McpServerSource.extension(id), (4, contribution_order), None)

    def disable(self, name: str) -> None:
        """Legacy name-scoped veto, applied to whatever wins the name."""
        self.disabled_names.add(name)

    def build(self) -> ResolvedMcpCatalog:
        actions = sorted(self.actions, key=lambda a: a.precedence)  # stable: insertion breaks ties
        winners: dict[str, _Action] = {}
        by_name_tier: dict[tuple[str, int], list[_Action]] = {}
        for action in actions:
            winners[action.name] = action
            by_name_tier.setdefault((action.name, action.tier), []).append(action)
        conflicts = []
        for (name, _tier), contenders in sorted(by_name_tier.items()):
            if len(contenders) >= 2:
                conflict = McpServerConflict(
                    name, _conflict_action(winners[name]), tuple(_conflict_action(a) for a in contenders)
                )
                conflicts.append(conflict)
                log.warning("MCP server name conflict on `%s`: %s", name, conflict)
        disabled = set(self.disabled_names)
        servers: dict[str, ResolvedMcpServer] = {}
        for name in sorted(winners):
            action = winners[name]
            if action.config is None:
                continue
            config = action.config
            if not config.enabled or name in disabled:
                if config.enabled:
                    config = config.model_copy(update={"enabled": False})
                if action.source.is_name_veto_when_disabled:
                    disabled.add(name)
            servers[name] = ResolvedMcpServer(action.source, config)
        return ResolvedMcpCatalog(tuple(actions), frozenset(disabled), servers, tuple(conflicts))


@dataclass(frozen=True)
class ResolvedMcpCatalog:
    """Immutable winners per name (sorted), plus what is needed to extend it later."""

    actions: tuple[_Action, ...] = ()
    disabled_names: frozenset[str] = frozenset()
    servers: Mapping[str, ResolvedMcpServer] = field(default_factory=dict)
    conflicts: tuple[McpServerConflict, ...] = ()

    @staticmethod
    def builder() -> McpCatalogBuilder:
        return McpCatalogBuilder()

    def to_builder(self) -> McpCatalogBuilder:
        """Extend with more registrations; disabled winners stay vetoes."""
        return McpCatalogBuilder(list(self.actions), set(self.disabled_names))

    def server(self, name: str) -> ResolvedMcpServer | None:
        return self.servers.get(name)

    def configured_servers(self) -> dict[str, McpServerConfig]:
        return {name: s.config for name, s in self.servers.items()}

    def has_same_servers(self, other: ResolvedMcpCatalog) -> bool:
        """Same winning ``name → (source, config)`` map (source includes plugin attribution)."""
        return self.servers == other.servers

    def with_materialized_servers(self, servers: Mapping[str, McpServerConfig]) -> ResolvedMcpCatalog:
        """Replace the server set, keeping each known name's source; unknown names are config."""
        builder = McpCatalogBuilder()
        tier_default = {
            "plugin": (0, 0), "selected_plugin": (1, 0), "config": (2, 0), "compatibility": (3, 0), "extension": (4, 0)
        }
        for name, config in servers.items():
            known = self.servers.get(name)
            source = known.source if known else McpServerSource.config()
            builder._push(name, source, tier_default[source.kind], config)
        return builder.build()

    def plugin_attributions_by_server_name(self) -> dict[str, tuple[str, str]]:
        """``server → (plugin_id, display_name)`` for plugin-owned winners (tool provenance)."""
        return {
            name: (s.source.plugin_id or "", s.source.display_name or "")
            for name, s in self.servers.items()
            if s.source.kind in ("plugin", "selected_plugin")
        }

    def selected_plugin_server_names(self) -> tuple[str, ...]:
        return tuple(name for name, s in self.servers.items() if s.source.kind == "selected_plugin")


def registrations_from(servers: Iterable[tuple[str, McpServerConfig]]) -> McpCatalogBuilder:
    """A builder holding ``config.toml`` registrations (convenience for callers and tests)."""
    builder = McpCatalogBuilder()
    for name, config in servers:
        builder.register_config(name, config)
    return builder
