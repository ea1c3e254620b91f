"""Pure pieces of the wiring: skills context, connector naming and attribution, stable catalogs."""

from __future__ import annotations

import mcp_types as types
from hypothesis import given, strategies as st

from rootstep.extensions import skills
from rootstep.extensions.connectors import (
    apps_url,
    attribute_connectors,
    callable_tool_name,
)
from rootstep.extensions.selected_plugins.catalog import McpCatalogBuilder
from rootstep.extensions.selected_plugins.projection import (
    ConnectorSource,
    McpProjection,
)
from rootstep.extensions.selected_plugins.tool_names import StableToolNames
from rootstep.extensions.thread_mcp import stable_catalog
from rootstep.mcp.catalog import ListedServer, build_catalog
from rootstep.plugins.discovery import PluginPackage
from rootstep.plugins.manifest import parse_manifest
from rootstep.plugins.skills import PluginSkill
from rootstep.protocol.path_uri import PathUri


def package(skill_names: tuple[str, ...] = ("deploy",)) -> PluginPackage:
    root = PathUri.parse("file:///plugins/demo")
    skills_ = tuple(
        PluginSkill(f"executor-demo:{n}", f"Do {n}", None, root.join(f"skills/{n}/SKILL.md"),
                    f"---\nname: {n}\n---\nBody of {n}\n")
        for n in skill_names
    )
    manifest = parse_manifest(root, '{"name": "executor-demo", "interface": {"displayName": "Executor Demo"}}')
    return PluginPackage("executor-demo@1", "e0", root, root.join(".codex-plugin/plugin.json"), manifest,
                         skills=skills_)


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_skills_context_catalog_guidance_once_and_mentions() -> None:
    pkg = package()
    first = skills.context_items([pkg], True, [user("use $executor-demo:deploy")], [user("use $executor-demo:deploy")])
    texts = [c["content"][0]["text"] for c in first]
    assert texts[0].startswith("<plugins_instructions>")
    assert texts[1].startswith("<skills_instructions>")
    assert "executor-demo:deploy: Do deploy (executor package: e0/skills/deploy)" in texts[1]
    assert texts[2].startswith("<skill>\n<name>executor-demo:deploy</name>") and "Body of deploy" in texts[2]
    history = [user("x"), *first]
    # Nothing changed: nothing added. Root gone: one "none available" update, then quiet.
    assert skills.context_items([pkg], True, history) == []
    gone = skills.context_items([], False, history)
    assert len(gone) == 1 and skills.NO_SKILLS in gone[0]["content"][0]["text"]
    assert skills.context_items([], False, history + gone) == []
    # Never shown and nothing ready: no message at all.
    assert skills.context_items([], False, [user("hi")]) == []


def test_apps_url_and_connector_names() -> None:
    assert apps_url("https://chatgpt.com") == "https://chatgpt.com/backend-api/ps/mcp"
    assert apps_url("http://127.0.0.1:9/") == "http://127.0.0.1:9/api/codex/ps/mcp"
    assert apps_url("https://x.test/backend-api/") == "https://x.test/backend-api/ps/mcp"
    assert callable_tool_name("calendar_create_event", "Calendar", "calendar") == "create_event"
    assert callable_tool_name("connector_calendar", "Calendar", "cal-1") == "connector_calendar"


def _apps_catalog() -> object:
    tool = types.Tool(name="calendar_list", input_schema={"type": "object"}, description="List",
                      _meta={"connector_id": "calendar", "connector_name": "Calendar"})
    return build_catalog({"codex_apps": ListedServer(tools=(tool,))})


def test_connector_attribution_follows_the_projection() -> None:
    catalog = _apps_catalog()
    with_root = McpProjection(McpCatalogBuilder().build(),
                              (ConnectorSource("p@1", "Executor Demo", ("calendar",)),), True)
    [info] = attribute_connectors(catalog, with_root).tools  # type: ignore[arg-type]
    assert info.model_name == ("mcp__codex_apps__calendar", "list")
    assert info.plugin_display_names == ("Executor Demo",) and info.connector_id == "calendar"
    [bare] = attribute_connectors(catalog, McpProjection(McpCatalogBuilder().build())).tools  # type: ignore[arg-type]
    assert bare.model_name == info.model_name and bare.plugin_display_names == ()


@given(st.lists(st.sampled_from(["srv-x", "srv_x", "srv.x", "other"]), min_size=1, max_size=4, unique=True),
       st.randoms())
def test_stable_names_are_kept_whatever_appears_later(servers: list[str], rnd: object) -> None:
    """Adding servers one by one never renames a tool that already had a name."""
    names = StableToolNames()
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    tool = types.Tool(name="echo", input_schema={"type": "object"})
    for count in range(1, len(servers) + 1):
        listed = {s: ListedServer(tools=(tool,)) for s in servers[:count]}
        catalog = stable_catalog(build_catalog(listed), names)
        current = {(i.server, i.tool.name): i.model_name for i in catalog.tools}
        for key, name in seen.items():
            assert current[key] == name
        assert len(set(current.values())) == len(current)
        for info in catalog.tools:
            assert catalog.route(*info.model_name) is info
        seen.update(current)


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["x", "y"]), max_size=4),
                min_size=1, max_size=6))
def test_server_pool_starts_only_what_changed(sets: list[dict[str, str]]) -> None:
    """Publishing snapshots one after another (each leased before the previous is released):
    a server starts only when its name is new or its config changed."""
    from contextlib import asynccontextmanager, nullcontext

    import anyio

    from rootstep.config.mcp_servers import McpServerConfig
    from rootstep.mcp.server_pool import ServerPool

    class NoTransport:
        @asynccontextmanager
        async def __call__(self, name: str, config: McpServerConfig):  # type: ignore[no-untyped-def]
            raise RuntimeError("no process in a pure test")
            yield  # pragma: no cover

        def start_slot(self, config: McpServerConfig) -> nullcontext[None]:
            return nullcontext()

    no_transport = NoTransport()

    def config(arg: str) -> McpServerConfig:
        return McpServerConfig.from_toml({"command": "srv", "args": [arg]})

    async def main() -> None:
        async with ServerPool(no_transport) as pool:
            previous, expected, managers = None, 0, {}
            last: dict[str, str] = {}
            for servers in sets:
                expected += sum(1 for n, c in servers.items() if last.get(n) != c)
                current = await pool.build({n: config(c) for n, c in servers.items()})
                for name, c in servers.items():
                    if last.get(name) == c:
                        assert current._entries[name].manager is managers[name]  # kept client and process
                    managers[name] = current._entries[name].manager
                if previous is not None:
                    await previous.aclose()
                previous, last = current, servers
                assert pool.starts == expected
                assert set(pool.running()) == set(servers)
            assert previous is not None
            await previous.aclose()
            assert pool.running() == {}

    anyio.run(main)
