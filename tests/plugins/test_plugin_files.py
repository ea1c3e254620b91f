"""``.app.json``, manifest fields, SKILL.md frontmatter and ``PathUri`` rules."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from rootstep.plugins import (
    AppConfigError,
    AppDeclaration,
    ManifestError,
    PathUri,
    PathUriError,
    SkillParseError,
    parse_manifest,
    parse_plugin_app_config,
    parse_skill,
)

ROOT = PathUri.from_native("/plugins/demo")


# ------------------------------------------------------------------ .app.json (connectors plugin_config_tests.rs)


def test_app_config_keeps_order_and_does_not_validate_ids() -> None:
    parsed = parse_plugin_app_config(
        json.dumps(
            {
                "apps": {
                    "calendar": {"id": "connector_calendar", "category": "  productivity  "},
                    "drive": {"id": "connector_calendar", "category": "  "},
                    "blank": {"id": "  "},
                }
            }
        )
    )
    assert parsed == [
        AppDeclaration("calendar", "connector_calendar", "productivity"),
        AppDeclaration("drive", "connector_calendar", None),
        AppDeclaration("blank", "  ", None),
    ]


@pytest.mark.parametrize("text", ["not json", "[]", '{"apps": {"a": {}}}', '{"apps": {"a": {"id": 3}}}', '{"apps": 1}'])
def test_invalid_app_config_is_rejected(text: str) -> None:
    with pytest.raises(AppConfigError):
        parse_plugin_app_config(text)


def test_app_config_without_apps_is_empty() -> None:
    assert parse_plugin_app_config("{}") == []


# ------------------------------------------------------------------ manifest


def test_display_name_prefers_trimmed_interface_name() -> None:
    assert parse_manifest(ROOT, '{"name":"n","interface":{"displayName":"  Nice  "}}').display_name == "Nice"
    assert parse_manifest(ROOT, '{"name":"n","interface":{"displayName":"   "}}').display_name == "n"
    assert parse_manifest(ROOT, '{"name":""}').display_name == "demo"


def test_manifest_paths_are_resolved_under_the_root() -> None:
    manifest = parse_manifest(
        ROOT, '{"mcpServers":"./cfg/mcp.json","apps":"./.app.json","skills":["./s1","./../s2","./s3"]}')
    assert manifest.mcp_servers == PathUri.from_native("/plugins/demo/cfg/mcp.json")
    assert manifest.apps == PathUri.from_native("/plugins/demo/.app.json")
    assert manifest.skills == (PathUri.from_native("/plugins/demo/s1"), PathUri.from_native("/plugins/demo/s3"))
    assert any("'..'" in w for w in manifest.warnings)


def test_mcp_servers_of_another_type_is_ignored_with_a_warning() -> None:
    manifest = parse_manifest(ROOT, '{"mcpServers": 7, "version": "  "}')
    assert manifest.mcp_servers is None and manifest.version is None
    assert manifest.warnings


@pytest.mark.parametrize("text", ["{", "[]", '{"name": 1}', '{"interface": "x"}', '{"keywords": "x"}', '{"apps": 3}'])
def test_bad_manifest_is_an_error(text: str) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(ROOT, text)


# ------------------------------------------------------------------ SKILL.md


def test_skill_frontmatter() -> None:
    path = ROOT.join("skills/deploy/SKILL.md")
    skill = parse_skill(
        "---\nname: deploy\ndescription: Deploy   it.\nmetadata:\n  short-description: Ship\n---\nBody", path, "demo")
    assert (skill.name, skill.description, skill.short_description) == ("demo:deploy", "Deploy it.", "Ship")
    assert parse_skill("---\ndescription: Build for AWS: ECS\n---\n", path, "demo").description == "Build for AWS: ECS"


@pytest.mark.parametrize(
    "text",
    ["no frontmatter", "---\nname: x\n", "---\nname: x\n---\n", "---\n- a\n---\n",
     "---\nname: " + "x" * 65 + "\ndescription: d\n---\n"],
)
def test_bad_skill_is_rejected(text: str) -> None:
    with pytest.raises(SkillParseError):
        parse_skill(text, ROOT.join("skills/x/SKILL.md"), "demo")


# ------------------------------------------------------------------ PathUri


def test_path_uri_spelling() -> None:
    assert str(PathUri.from_native("/a b/100%.txt")) == "file:///a%20b/100%25.txt"
    assert str(PathUri.from_native("/q?/x#y/ü")) == "file:///q%3F/x%23y/%C3%BC"
    assert PathUri.parse("file://localhost/a b") == PathUri.parse("file:///a%20b")
    assert PathUri.coerce("/x/y") == PathUri.coerce("file:///x/y")
    assert str(PathUri.parse("file:///C:/plugins/demo")) == "file:///C:/plugins/demo"
    assert PathUri.parse("file:///C:/a").to_native() == "C:\\a"
    assert PathUri.from_native("/").parent is None
    with pytest.raises(PathUriError, match="unsupported path URI scheme `http`"):
        PathUri.parse("http://x/y")
    with pytest.raises(PathUriError):
        PathUri.coerce("relative/path")


segment = st.text(alphabet=st.characters(blacklist_characters="/\0\\", blacklist_categories=("Cs",)),
                  min_size=1, max_size=8)


@given(st.lists(segment, min_size=1, max_size=5))
def test_path_uri_round_trips_through_its_spelling(parts: list[str]) -> None:
    native = "/" + "/".join(p for p in parts)
    uri = PathUri.from_native(native)
    assert PathUri.parse(str(uri)) == uri
    assert PathUri.from_native(uri.to_native()) == uri


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "c d"]), max_size=8))
def test_relative_join_is_lexical_and_never_climbs_above_the_filesystem_root(parts: list[str]) -> None:
    text = "/".join(parts)
    joined = ROOT.join(text)
    stack = [] if text.startswith("/") else list(ROOT.segments)  # absolute text replaces the base
    for p in parts:
        if p == "..":
            if stack:
                stack.pop()
        elif p not in (".", ""):
            stack.append(p)
    assert joined.segments == tuple(stack)
    if ".." not in parts and not text.startswith("/"):
        assert joined.starts_with(ROOT)
