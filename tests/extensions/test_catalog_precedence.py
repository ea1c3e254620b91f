"""Catalog precedence (mirrors ``codex-mcp/src/catalog_tests.rs``) plus hypothesis properties."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.extensions.selected_plugins import (
    McpServerSource,
    ResolvedMcpCatalog,
    ResolvedMcpServer,
)
from rootstep.extensions.selected_plugins.catalog import (
    ConflictAction,
    McpServerConflict,
)


def server(url: str, enabled: bool = True) -> McpServerConfig:
    return McpServerConfig.from_toml({"url": url, "enabled": enabled, "required": True, "enabled_tools": ["read"]})


def disabled(config: McpServerConfig) -> McpServerConfig:
    return config.model_copy(update={"enabled": False})


def reg(source: McpServerSource) -> ConflictAction:
    return ConflictAction("register", source)


def test_source_precedence_preserves_the_winning_registration() -> None:
    extension = server("https://extension.example/mcp")
    b = ResolvedMcpCatalog.builder()
    b.register_extension("docs", "hosted", 0, extension)
    b.register_plugin("docs", "plugin@test", "plugin@test", 0, server("https://plugin.example/mcp", enabled=False))
    b.register_plugin("docs", "other-plugin@test", "other-plugin@test", 1, server("https://other-plugin.example/mcp"))
    b.register_compatibility("docs", "legacy", server("https://compatibility.example/mcp"))
    b.register_config("docs", server("https://config.example/mcp"))
    catalog = b.build()
    assert catalog.server("docs") == ResolvedMcpServer(McpServerSource.extension("hosted"), extension)
    assert catalog.plugin_attributions_by_server_name() == {}
    assert catalog.conflicts == (
        McpServerConflict(
            "docs",
            reg(McpServerSource.extension("hosted")),
            (
                reg(McpServerSource.plugin("other-plugin@test", "other-plugin@test")),
                reg(McpServerSource.plugin("plugin@test", "plugin@test")),
            ),
        ),
    )


def test_disabled_veto_only_disables_the_winning_registration() -> None:
    b = ResolvedMcpCatalog.builder()
    b.register_extension("docs", "hosted", 0, server("https://extension.example/mcp"))
    b.disable("docs")
    assert b.build().server("docs").config == disabled(server("https://extension.example/mcp"))


def test_disabled_config_winner_stays_a_veto_when_extended() -> None:
    b = ResolvedMcpCatalog.builder()
    b.register_config("docs", server("https://config.example/mcp", enabled=False))
    b = b.build().to_builder()
    b.register_extension("docs", "hosted", 0, server("https://extension.example/mcp"))
    assert b.build().server("docs") == ResolvedMcpServer(
        McpServerSource.extension("hosted"), disabled(server("https://extension.example/mcp"))
    )


def test_disabled_installed_plugin_stays_a_veto_for_runtime_overlays() -> None:
    b = ResolvedMcpCatalog.builder()
    b.register_plugin("docs", "plugin@test", "plugin@test", 0, server("https://plugin.example/mcp", enabled=False))
    b = b.build().to_builder()
    b.register_extension("docs", "hosted", 0, server("https://extension.example/mcp"))
    assert not b.build().server("docs").config.enabled


def test_earlier_installed_plugin_wins_with_an_explicit_conflict() -> None:
    b = ResolvedMcpCatalog.builder()
    b.register_plugin("docs", "alpha@test", "alpha@test", 0, server("https://alpha.example/mcp"))
    b.register_plugin("docs", "beta@test", "beta@test", 1, server("https://beta.example/mcp"))
    catalog = b.build()
    assert catalog.plugin_attributions_by_server_name() == {"docs": ("alpha@test", "alpha@test")}
    assert catalog.conflicts[0].outcome == reg(McpServerSource.plugin("alpha@test", "alpha@test"))


def test_selected_plugins_override_installed_plugins_but_not_config() -> None:
    selected = server("https://selected-alpha.example/mcp")
    b = ResolvedMcpCatalog.builder()
    b.register_plugin("docs", "local@test", "local@test", 0, server("https://local.example/mcp", enabled=False))
    b.register_selected_plugin("docs", "selected-beta", "selected-beta", 1, server("https://selected-beta.example/mcp"))
    b.register_selected_plugin("docs", "selected-alpha", "selected-alpha", 0, selected)
    catalog = b.build()
    assert catalog.server("docs") == ResolvedMcpServer(
        McpServerSource.selected_plugin("selected-alpha", "selected-alpha"), selected)
    assert catalog.selected_plugin_server_names() == ("docs",)
    refreshed = server("https://refreshed.example/mcp")
    catalog = catalog.with_materialized_servers({"docs": refreshed, "newcomer": refreshed})
    assert catalog.server("docs") == ResolvedMcpServer(
        McpServerSource.selected_plugin("selected-alpha", "selected-alpha"), refreshed)
    assert catalog.server("newcomer").source == McpServerSource.config()
    b = catalog.to_builder()
    configured = server("https://config.example/mcp")
    b.register_config("docs", configured)
    assert b.build().server("docs") == ResolvedMcpServer(McpServerSource.config(), configured)


def test_disabled_selected_plugin_does_not_veto_runtime_overlays() -> None:
    b = ResolvedMcpCatalog.builder()
    b.register_selected_plugin("docs", "selected", "selected", 0, server("https://selected.example/mcp", enabled=False))
    b = b.build().to_builder()
    extension = server("https://extension.example/mcp")
    b.register_extension("docs", "hosted", 0, extension)
    assert b.build().server("docs") == ResolvedMcpServer(McpServerSource.extension("hosted"), extension)


def test_equal_precedence_uses_insertion_order_and_removal_wins_last() -> None:
    b = ResolvedMcpCatalog.builder()
    b.register_compatibility("docs", "z-first", server("https://first.example/mcp"))
    b.register_compatibility("docs", "a-second", server("https://second.example/mcp"))
    catalog = b.build()
    assert catalog.server("docs").source == McpServerSource.compatibility("a-second")
    b = catalog.to_builder()
    b.remove_compatibility("docs", "remove-last")
    catalog = b.build()
    assert catalog.server("docs") is None
    assert catalog.conflicts[0].outcome == ConflictAction("remove", McpServerSource.compatibility("remove-last"))
    assert len(catalog.conflicts[0].contenders) == 3


# ------------------------------------------------------------------ properties

KINDS = ["plugin", "selected_plugin", "config", "compatibility", "extension", "remove_extension", "remove_compat"]
TIER = {"plugin": 0, "selected_plugin": 1, "config": 2, "compatibility": 3, "remove_compat": 3, "extension": 4,
        "remove_extension": 4}

action = st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(KINDS), st.integers(0, 3), st.booleans())


@settings(max_examples=300)
@given(st.lists(action, max_size=12))
def test_the_highest_precedence_last_inserted_registration_wins(actions: list[tuple[str, str, int, bool]]) -> None:
    b = ResolvedMcpCatalog.builder()
    expected: dict[str, tuple[tuple[int, int], int, str, int]] = {}
    for index, (name, kind, order, enabled) in enumerate(actions):
        config = server(f"https://{kind}-{order}-{index}.example/mcp", enabled)
        if kind == "plugin":
            b.register_plugin(name, f"p{order}", f"P{order}", order, config)
            key = (0, -order)
        elif kind == "selected_plugin":
            b.register_selected_plugin(name, f"s{order}", f"S{order}", order, config)
            key = (1, -order)
        elif kind == "config":
            b.register_config(name, config)
            key = (2, 0)
        elif kind == "compatibility":
            b.register_compatibility(name, f"c{order}", config)
            key = (3, 0)
        elif kind == "remove_compat":
            b.remove_compatibility(name, f"c{order}")
            key = (3, 0)
        elif kind == "extension":
            b.register_extension(name, f"e{order}", order, config)
            key = (4, order)
        else:
            b.remove_extension(name, f"e{order}", order)
            key = (4, order)
        best = expected.get(name)
        if best is None or key >= best[0]:  # later insertion wins ties
            expected[name] = (key, index, kind, order)
    catalog = b.build()
    for name, (_key, index, kind, _order) in expected.items():
        resolved = catalog.server(name)
        if kind.startswith("remove"):
            assert resolved is None
        else:
            assert resolved is not None
            assert resolved.config.transport.url.endswith(f"-{index}.example/mcp")
            assert resolved.config.enabled == actions[index][3]
    assert set(catalog.servers) <= set(expected)
    # Conflicts are reported exactly for same-tier collisions.
    collisions = {(n, TIER[k]) for n, k, _, _ in actions}
    counts = {c: sum(1 for n, k, _, _ in actions if (n, TIER[k]) == c) for c in collisions}
    assert len(catalog.conflicts) == sum(1 for c in counts.values() if c >= 2)


@given(st.lists(action, max_size=10), st.lists(action, max_size=6))
def test_extending_a_catalog_equals_building_everything_at_once_except_for_vetoes(
    first: list[tuple[str, str, int, bool]], second: list[tuple[str, str, int, bool]]
) -> None:
    def add(b, acts):  # type: ignore[no-untyped-def]
        for i, (name, kind, order, enabled) in enumerate(acts):
            config = server(f"https://{kind}-{order}-{i}.example/mcp", enabled)
            if kind == "config":
                b.register_config(name, config)
            elif kind == "extension":
                b.register_extension(name, "e", order, config)
            elif kind == "selected_plugin":
                b.register_selected_plugin(name, "s", "S", order, config)
            else:
                b.register_plugin(name, "p", "P", order, config)

    b1 = ResolvedMcpCatalog.builder()
    add(b1, first)
    extended_builder = b1.build().to_builder()
    add(extended_builder, second)
    b2 = ResolvedMcpCatalog.builder()
    add(b2, first)
    add(b2, second)
    extended, at_once = extended_builder.build(), b2.build()
    assert set(extended.servers) == set(at_once.servers)
    for name, s in extended.servers.items():
        other = at_once.servers[name]
        assert s.source == other.source
        # The only difference a persisted veto can make: a disabled non-selected winner of the
        # first build disables the later winner.
        if s.config != other.config:
            assert not s.config.enabled and other.config.enabled
