"""Model-visible names, namespaces and the Responses ``tools`` array (spec §6.1–6.3, §6.6)."""

from __future__ import annotations

import hashlib
import re

import mcp_types as types
from hypothesis import given, settings, strategies as st

from rootstep.mcp.catalog import ListedServer, ServerProvenance, build_catalog
from rootstep.mcp.tools import (
    ToolInfo,
    add_plugin_provenance,
    namespace_tools,
    normalize_tools_for_model,
    parameters_for_model,
    sanitize_name,
    tool_is_model_visible,
)

VALID = re.compile(r"^[A-Za-z0-9_]+$")


def tool(name: str, description: str | None = None, schema: dict | None = None, **kw) -> types.Tool:
    return types.Tool(name=name, description=description, input_schema=schema or {"type": "object"}, **kw)


def info(server: str, name: str, **kw) -> ToolInfo:
    return ToolInfo(server=server, tool=tool(name), callable_namespace=server, callable_name=name, **kw)


def sha12(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()[:12]


# --- examples straight from the spec ---------------------------------------------------------


def test_server_becomes_mcp_namespace_and_dash_becomes_underscore():
    [out] = normalize_tools_for_model([info("executor-demo", "echo")])
    assert out.model_name == ("mcp__executor_demo", "echo")
    assert out.server == "executor-demo" and out.tool.name == "echo"  # raw identity kept for the call


def test_existing_prefix_is_not_doubled_and_prefix_can_be_off():
    [out] = normalize_tools_for_model([info("mcp__x", "t")])
    assert out.callable_namespace == "mcp__x"
    [plain] = normalize_tools_for_model([info("srv", "t")], prefix=False)
    assert plain.callable_namespace == "srv"


def test_sanitize_replaces_everything_outside_the_alphabet():
    assert sanitize_name("a.b-c d/é") == "a_b_c_d__"
    assert sanitize_name("") == "_"


def test_two_servers_that_sanitize_alike_get_namespace_suffixes():
    out = normalize_tools_for_model([info("a-b", "t"), info("a_b", "t")])
    namespaces = {o.server: o.callable_namespace for o in out}
    assert namespaces["a-b"] == "mcp__a_b_" + sha12("a-b\0a-b\0")
    assert namespaces["a_b"] == "mcp__a_b_" + sha12("a_b\0a_b\0")
    assert all(o.callable_name == "t" for o in out)


def test_two_tools_that_sanitize_alike_get_name_suffixes():
    out = normalize_tools_for_model([info("s", "do.it"), info("s", "do-it")])
    names = {o.tool.name: o.callable_name for o in out}
    assert names["do.it"] == "do_it_" + sha12("s\0s\0\0do.it\0do.it")
    assert names["do-it"] == "do_it_" + sha12("s\0s\0\0do-it\0do-it")


def test_exact_duplicates_are_dropped():
    assert len(normalize_tools_for_model([info("s", "t"), info("s", "t")])) == 1


def test_long_names_are_cut_to_the_limit_with_a_hash():
    long_tool = "x" * 80
    [out] = normalize_tools_for_model([info("srv", long_tool)])
    assert len(out.callable_namespace + out.callable_name) + 2 == 64
    assert out.callable_name.endswith("_" + sha12(f"srv\0srv\0\0{long_tool}\0{long_tool}"))


def test_very_long_server_name_truncates_the_namespace():
    [out] = normalize_tools_for_model([info("s" * 70, "tool")])
    assert len(out.callable_namespace + out.callable_name) + 2 <= 64
    assert out.callable_namespace.startswith("mcp__sss")


# --- properties ----------------------------------------------------------------------------

names = st.text(alphabet=st.sampled_from("ab-_.Zé9 x"), min_size=0, max_size=70)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, names), min_size=0, max_size=12))
def test_model_names_are_valid_unique_bounded_and_route_back(pairs):
    tools = [info(server, name) for server, name in pairs]
    out = normalize_tools_for_model(tools)
    flat = [o.callable_namespace + o.callable_name for o in out]
    assert len(set(flat)) == len(flat), "flat names must be unique"
    assert len({o.model_name for o in out}) == len(out)
    for o in out:
        assert VALID.match(o.callable_namespace) and VALID.match(o.callable_name)
        assert len(o.callable_namespace) + len(o.callable_name) + 2 <= 64
        assert o.callable_namespace.startswith("mcp__")
    # every distinct raw identity survives, exactly once
    assert sorted({(s, n) for s, n in pairs}) == sorted((o.server, o.tool.name) for o in out)
    # routing: model name → the same raw identity
    listed: dict[str, ListedServer] = {}
    for server, name in pairs:
        entry = listed.get(server, ListedServer(tools=()))
        if name not in [t.name for t in entry.tools]:
            listed[server] = ListedServer(tools=entry.tools + (tool(name),))
    catalog = build_catalog(listed)
    for t in catalog.tools:
        routed = catalog.route(t.callable_namespace, t.callable_name)
        assert routed is not None and (routed.server, routed.tool.name) == (t.server, t.tool.name)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, names), min_size=0, max_size=10), st.randoms())
def test_naming_does_not_depend_on_listing_order(pairs, rnd):
    tools = [info(server, name) for server, name in pairs]
    shuffled = list(tools)
    rnd.shuffle(shuffled)
    key = lambda o: (o.server, o.tool.name, o.model_name)  # noqa: E731
    assert sorted(map(key, normalize_tools_for_model(tools))) == sorted(map(key, normalize_tools_for_model(shuffled)))


@given(names)
def test_sanitize_is_idempotent_and_valid(value):
    once = sanitize_name(value)
    assert VALID.match(once) and sanitize_name(once) == once and len(once) == max(1, len(value))


# --- serialization --------------------------------------------------------------------------


def test_namespace_tool_shape_sorting_and_default_description():
    listed = {
        "zeta": ListedServer(tools=(tool("b", "Second."), tool("a", "First.")), instructions="  Zeta server.  "),
        "alpha": ListedServer(tools=(tool("only"),)),
    }
    entries = build_catalog(listed).model_tools()
    assert [e["name"] for e in entries] == ["mcp__alpha", "mcp__zeta"]
    alpha, zeta = entries
    assert alpha["description"] == "Tools in the mcp__alpha namespace."
    assert zeta["description"] == "Zeta server."
    assert [t["name"] for t in zeta["tools"]] == ["a", "b"]
    assert zeta["tools"][0] == {
        "type": "function",
        "name": "a",
        "description": "First.",
        "strict": False,
        "parameters": {"type": "object", "properties": {}},
    }


def test_plugin_provenance_in_descriptions():
    assert add_plugin_provenance("Echo a message.", ["Demo Plugin"]) == (
        "Echo a message. This tool is part of plugin `Demo Plugin`.")
    assert add_plugin_provenance("Echo", ["A", "B"]) == "Echo. This tool is part of plugins `A`, `B`."
    assert add_plugin_provenance("  ", ["A"]) == "This tool is part of plugin `A`."
    assert add_plugin_provenance("Why?", []) == "Why?"
    listed = {"demo": ListedServer(tools=(tool("echo", "Echo a message."),))}
    catalog = build_catalog(listed, {"demo": ServerProvenance(plugin_id="demo@x", display_names=("Demo Plugin",))})
    [entry] = catalog.model_tools()
    assert entry["tools"][0]["description"] == "Echo a message. This tool is part of plugin `Demo Plugin`."
    assert catalog.tools[0].plugin_id == "demo@x"


def test_tools_hidden_from_the_model_by_ui_visibility():
    assert tool_is_model_visible(tool("a"))
    assert tool_is_model_visible(tool("a", _meta={"ui": {"visibility": ["model", "app"]}}))
    hidden = tool("b", _meta={"ui": {"visibility": ["app"]}})
    assert not tool_is_model_visible(hidden)
    catalog = build_catalog({"s": ListedServer(tools=(tool("a"), hidden))})
    assert [t.tool.name for t in catalog.tools] == ["a"]


def test_parameters_keep_only_the_supported_subset():
    schema = {
        "type": "object",
        "title": "Args",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "properties": {
            "message": {"type": "string", "minLength": 1, "description": "what to say"},
            "mode": {"const": "fast"},
            "tags": {"type": "array"},
            "flag": True,
            "n": {"minimum": 1},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer", "format": "int32"}]},
        },
        "required": ["message"],
        "additionalProperties": False,
    }
    assert parameters_for_model(schema) == {
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "what to say"},
            "mode": {"type": "string", "enum": ["fast"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "flag": {"type": "string"},
            "n": {"type": "number"},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "required": ["message"],
        "additionalProperties": False,
    }


def test_missing_or_null_properties_become_empty():
    assert parameters_for_model({"type": "object", "properties": None}) == {"type": "object", "properties": {}}
    assert parameters_for_model({}) == {"type": "object", "properties": {}}


def test_namespace_tools_merge_same_namespace():
    a = info("s", "x", namespace_description=None)
    b = info("s", "y", namespace_description="Desc")
    [entry] = namespace_tools([a, b])
    assert entry["description"] == "Desc" and [t["name"] for t in entry["tools"]] == ["x", "y"]


json_schemas = st.recursive(
    st.one_of(
        st.booleans(),
        st.fixed_dictionaries({}, optional={
            "type": st.sampled_from(["string", "integer", "number", "boolean", "object", "array", "null", "weird"]),
            "description": st.text(max_size=5), "minimum": st.integers(), "format": st.just("uri"),
            "const": st.integers(), "title": st.text(max_size=3), "enum": st.lists(st.integers(), max_size=2),
        }),
    ),
    lambda children: st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["object", "array", ["string", "null"]]),
        "properties": st.dictionaries(st.text(min_size=1, max_size=3), children, max_size=3),
        "items": children, "anyOf": st.lists(children, max_size=2),
        "additionalProperties": st.one_of(st.booleans(), children),
        "required": st.lists(st.text(max_size=3), max_size=2),
    }),
    max_leaves=8,
)
ALLOWED = {"$ref", "type", "description", "enum", "items", "properties", "required", "additionalProperties",
           "anyOf", "oneOf", "allOf", "$defs", "definitions"}


def _only_allowed(schema) -> bool:
    if not isinstance(schema, dict):
        return True
    if not set(schema) <= ALLOWED:
        return False
    children = list((schema.get("properties") or {}).values())
    children += [schema[k] for k in ("items", "additionalProperties") if isinstance(schema.get(k), dict)]
    for key in ("anyOf", "oneOf", "allOf"):
        children += schema.get(key) or []
    return all(_only_allowed(c) for c in children)


@settings(max_examples=300, deadline=None)
@given(json_schemas)
def test_parameters_are_always_a_supported_object_schema(schema):
    params = parameters_for_model(schema if isinstance(schema, dict) else {})
    assert _only_allowed(params)
    assert isinstance(params.get("properties"), dict) or "anyOf" in params or "$ref" in params
    assert parameters_for_model(params) == params  # reducing twice changes nothing
