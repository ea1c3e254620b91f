"""Hypothesis properties of the pure parts: projection, reuse decision, server plan, tool names."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from rootstep.config.mcp_servers import McpServerConfig
from rootstep.config.requirements import parse_requirements
from rootstep.extensions.selected_plugins import (
    McpProjection,
    PublishedInputs,
    ResolvedMcpCatalog,
    RuntimeDecision,
    SelectedCapabilityRoot,
    SelectedPluginPackage,
    SelectedPluginServer,
    StableToolNames,
    build_projection,
    decide_runtime,
    dedupe_candidates,
    project_ready_roots,
)
from rootstep.plugins import PathUri, PluginManifest, PluginPackage

ENVS = ["local", "executor-1", "executor-2"]
SERVER_NAMES = ["alpha", "beta", "docs", "zeta"]


def config(command: str, env: str, enabled: bool = True) -> McpServerConfig:
    return McpServerConfig.from_toml({"command": command, "environment_id": env, "enabled": enabled})


@st.composite
def packages(draw: st.DrawFn, plugin_id: str, env: str) -> PluginPackage:
    names = draw(st.lists(st.sampled_from(SERVER_NAMES), unique=True, max_size=3))
    commands = {n: draw(st.sampled_from(["a", "b"])) for n in names}
    root = PathUri.from_native(f"/plugins/{plugin_id}")
    return PluginPackage(
        plugin_id=plugin_id,
        environment_id=env,
        root=root,
        manifest_path=root.join(".codex-plugin/plugin.json"),
        manifest=PluginManifest(name=plugin_id),
        servers=tuple((n, config(commands[n], env)) for n in sorted(names)),
        connector_ids=tuple(draw(st.lists(st.sampled_from(["calendar", "drive"]), max_size=2))),
    )


@st.composite
def ready_lists(draw: st.DrawFn) -> list[tuple[SelectedCapabilityRoot, PluginPackage | None]]:
    count = draw(st.integers(0, 5))
    out = []
    for i in range(count):
        env = draw(st.sampled_from(ENVS))
        root = SelectedCapabilityRoot.create(f"p{i}", env, f"/plugins/p{i}")
        package = draw(st.none() | packages(f"p{i}", env))
        out.append((root, package))
    return out


@settings(max_examples=200)
@given(ready_lists())
def test_projection_shape(ready: list[tuple[SelectedCapabilityRoot, PluginPackage | None]]) -> None:
    contributions = project_ready_roots(ready)
    packages_out = [c for c in contributions if isinstance(c, SelectedPluginPackage)]
    # One package per plugin root, in selection order, even without servers.
    assert [p.plugin_id for p in packages_out] == [pkg.plugin_id for _, pkg in ready if pkg is not None]
    # Per root: its servers sorted by name, immediately followed by its package.
    index = 0
    for order, (_root, pkg) in enumerate(ready):
        if pkg is None:
            continue
        names = [n for n, _ in pkg.servers]
        block = contributions[index : index + len(names) + 1]
        assert [c.name for c in block[:-1]] == sorted(names)  # type: ignore[union-attr]
        assert all(isinstance(c, SelectedPluginServer) and c.selection_order == order for c in block[:-1])
        assert isinstance(block[-1], SelectedPluginPackage)
        index += len(names) + 1
    assert index == len(contributions)


@settings(max_examples=200)
@given(ready_lists(), st.dictionaries(st.sampled_from(SERVER_NAMES), st.sampled_from(ENVS), max_size=2))
def test_first_ready_root_wins_but_config_beats_every_plugin(
    ready: list[tuple[SelectedCapabilityRoot, PluginPackage | None]], config_envs: dict[str, str]
) -> None:
    config_servers = {n: config("from-config", env) for n, env in config_envs.items()}
    projection = build_projection(project_ready_roots(ready), config_servers)
    for name, resolved in projection.catalog.servers.items():
        if name in config_servers:
            assert resolved.source.kind == "config" and resolved.config == config_servers[name]
            continue
        first = next(pkg for _, pkg in ready if pkg is not None and name in dict(pkg.servers))
        assert resolved.source.plugin_id == first.plugin_id
        assert resolved.config == dict(first.servers)[name]
    declared = {n for _, pkg in ready if pkg is not None for n, _ in pkg.servers} | set(config_servers)
    assert set(projection.catalog.servers) == declared
    assert projection.plugins_available == any(pkg is not None for _, pkg in ready)


@given(ready_lists())
def test_requirements_never_enable_and_never_drop(
    ready: list[tuple[SelectedCapabilityRoot, PluginPackage | None]]
) -> None:
    requirements = parse_requirements('[plugins."p0".mcp_servers.alpha.identity]\ncommand = "a"\n')
    plain = project_ready_roots(ready)
    gated = project_ready_roots(ready, requirements)
    assert [(type(c), getattr(c, "name", None)) for c in plain] == [(type(c), getattr(c, "name", None)) for c in gated]
    for c in gated:
        if isinstance(c, SelectedPluginServer):
            allowed = c.plugin_id == "p0" and c.name == "alpha" and c.config.transport.command == "a"
            assert c.config.enabled == allowed


# ------------------------------------------------------------------ reuse decision


def projection_for(ready: list[tuple[SelectedCapabilityRoot, PluginPackage | None]]) -> McpProjection:
    return build_projection(project_ready_roots(ready))


@settings(max_examples=200)
@given(ready_lists(), st.data())
def test_reuse_decision(ready: list[tuple[SelectedCapabilityRoot, PluginPackage | None]], data: st.DataObject) -> None:
    previous_ready = data.draw(st.lists(st.sampled_from(ready), max_size=len(ready),
                                        unique_by=lambda r: r[0].id)) if ready else []
    new_ready = data.draw(st.lists(st.sampled_from(ready), max_size=len(ready),
                                   unique_by=lambda r: r[0].id)) if ready else []
    previous = PublishedInputs(tuple(r for r, _ in previous_ready), projection_for(previous_ready))
    new_roots = [r for r, _ in new_ready]
    new_projection = projection_for(new_ready)
    decision = decide_runtime(previous, new_roots, new_projection)
    if tuple(new_roots) == previous.ready_roots:
        assert decision is RuntimeDecision.REUSE
        return
    same = previous.projection.catalog.has_same_servers(new_projection.catalog) and (
        previous.projection.connector_sources == new_projection.connector_sources
    )
    if decision is RuntimeDecision.KEEP_MANAGER:
        assert same  # never keeps a manager whose servers or connectors differ
        # ... and no enabled server's environment entered or left the ready set.
        was = {r.environment_id for r in previous.ready_roots}
        now = {r.environment_id for r in new_roots}
        for server in new_projection.catalog.configured_servers().values():
            assert (server.environment_id in was) == (server.environment_id in now)
    else:
        assert decision is RuntimeDecision.REBUILD


def test_unchanged_key_reuses_without_a_projection() -> None:
    root = SelectedCapabilityRoot.create("a", "executor-1", "/p/a")
    previous = PublishedInputs((root,), McpProjection(ResolvedMcpCatalog()))
    same_again = SelectedCapabilityRoot.create("a", "executor-1", "file:///p/a")
    assert decide_runtime(previous, [same_again], None) is RuntimeDecision.REUSE


def test_conflicting_root_ids_keep_the_first_location() -> None:
    first = SelectedCapabilityRoot.create("dup", "executor-1", "/a")
    other = SelectedCapabilityRoot.create("dup", "executor-2", "/b")
    third = SelectedCapabilityRoot.create("x", "local", "/c")
    assert dedupe_candidates([first, other, third, first]) == [first, third]


def test_wire_round_trip() -> None:
    root = SelectedCapabilityRoot.from_wire({"id": "executor-demo@1", "location": {
        "type": "environment", "environmentId": "executor-1", "path": "/abs/plugin root"}})
    assert root.to_wire() == {"id": "executor-demo@1", "location": {
        "type": "environment", "environmentId": "executor-1", "path": "file:///abs/plugin%20root"}}
    assert SelectedCapabilityRoot.from_wire(root.to_wire()) == root


# ------------------------------------------------------------------ stable tool names

identities = st.sampled_from([f"srv{i}\0tool{j}" for i in range(3) for j in range(3)])
preferred = st.tuples(st.sampled_from(["mcp__a", "mcp__b"]),
                      st.sampled_from(["echo", "run", "x" * 50]))  # valid (<= 64)


@settings(max_examples=200)
@given(st.lists(st.dictionaries(identities, preferred, max_size=6), max_size=5))
def test_tool_names_never_move_and_never_collide(rounds: list[dict[str, tuple[str, str]]]) -> None:
    names = StableToolNames()
    given_out: dict[str, tuple[str, str]] = {}
    for request in rounds:
        result = names.assign(request)
        assert set(result) == set(request)
        for identity, name in result.items():
            if identity in given_out:
                assert name == given_out[identity]  # never moves
            given_out[identity] = name
            assert len(name[0]) + len(name[1]) + 2 <= 64
            assert names.identity_of(name) == identity
        # Survives persistence with the thread.
        names = StableToolNames.from_json(names.to_json())
    assert len(set(given_out.values())) == len(given_out)  # injective over the thread's life


def test_a_later_collision_suffixes_the_newcomer_not_the_incumbent() -> None:
    names = StableToolNames()
    assert names.assign({"b\0echo": ("mcp__x", "echo")}) == {"b\0echo": ("mcp__x", "echo")}
    later = names.assign({"a\0echo": ("mcp__x", "echo"), "b\0echo": ("mcp__x", "echo")})
    assert later["b\0echo"] == ("mcp__x", "echo")
    assert later["a\0echo"][1].startswith("echo_") and len(later["a\0echo"][1]) == len("echo_") + 12
    # Even after the incumbent disappears, its name is not recycled to someone else.
    assert names.assign({"c\0echo": ("mcp__x", "echo")})["c\0echo"] != ("mcp__x", "echo")


@given(st.lists(st.tuples(st.sampled_from(["r1", "r2", "r3", "r4"]), st.sampled_from(ENVS)), max_size=6),
       st.sets(st.sampled_from(ENVS)))
def test_ready_roots_keep_order_and_ask_once_per_environment(spec: list[tuple[str, str]], ready_envs: set[str]) -> None:
    from rootstep.extensions.selected_plugins import ready_roots

    roots = [SelectedCapabilityRoot.create(i, e, f"/p/{i}") for i, e in spec]
    asked: list[str] = []

    def is_ready(env_id: str) -> bool:
        asked.append(env_id)
        return env_id in ready_envs

    assert ready_roots(roots, is_ready) == [r for r in roots if r.environment_id in ready_envs]
    assert len(asked) == len(set(asked))
