"""``rootstep mcp list|get|add|remove``: edit ``[mcp_servers]`` of ``CODEX_HOME/config.toml``.

Edits go through ``tomlkit`` so comments, ordering and formatting of everything else in the
file survive. ``add`` validates the new server with the same parser the runtime uses before
writing, so a server the runtime would reject is never saved.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from rootstep.config.home import codex_home
from rootstep.mcp.config import parse_mcp_servers
from rootstep.mcp.server_config import SERVER_NAME_RE, HttpTransport, McpServerConfig, StdioTransport


class CliError(Exception):
    pass


def config_path() -> Path:
    return codex_home() / "config.toml"


def load_document(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - tomlkit raises several kinds
        raise CliError(f"failed to parse {path}: {exc}") from exc


def save_document(path: Path, doc: tomlkit.TOMLDocument) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(path)


def _parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"invalid --env value `{pair}`: expected KEY=VALUE")
        env[key] = value
    return env


def server_table(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[mcp_servers.<name>]`` table ``add`` writes. Pure."""
    if args.url:
        if args.command_line:
            raise CliError("use either --url or a command after `--`, not both")
        if args.env:
            raise CliError("--env is only valid for stdio servers")
        table: dict[str, Any] = {"url": args.url}
        if args.bearer_token_env_var:
            table["bearer_token_env_var"] = args.bearer_token_env_var
        return table
    command = list(args.command_line)
    if not command:
        raise CliError("missing server command: `rootstep mcp add NAME -- COMMAND [ARGS...]` or `--url URL`")
    if args.bearer_token_env_var:
        raise CliError("--bearer-token-env-var is only valid with --url")
    table = {"command": command[0]}
    if command[1:]:
        table["args"] = command[1:]
    env = _parse_env(args.env or [])
    if env:
        table["env"] = env
    return table


def describe(name: str, config: McpServerConfig) -> dict[str, Any]:
    transport = config.transport
    data: dict[str, Any] = {"name": name, "enabled": config.enabled}
    if isinstance(transport, StdioTransport):
        data["transport"] = {
            "type": "stdio",
            "command": transport.command,
            "args": list(transport.args),
            "env": dict(transport.env) or None,
            "env_vars": [v.name for v in transport.env_vars],
            "cwd": transport.cwd,
        }
    else:
        assert isinstance(transport, HttpTransport)
        data["transport"] = {
            "type": "streamable_http",
            "url": transport.url,
            "bearer_token_env_var": transport.bearer_token_env_var,
            "http_headers": dict(transport.http_headers) or None,
            "env_http_headers": dict(transport.env_http_headers) or None,
        }
    data["startup_timeout_sec"] = config.startup_timeout_sec
    data["tool_timeout_sec"] = config.tool_timeout_sec
    data["enabled_tools"] = list(config.enabled_tools) if config.enabled_tools is not None else None
    data["disabled_tools"] = list(config.disabled_tools) if config.disabled_tools is not None else None
    return data


def _servers(doc: tomlkit.TOMLDocument) -> Any:
    return doc.get("mcp_servers")


def cmd_list(args: argparse.Namespace, out: Any) -> int:
    doc = load_document(config_path())
    parsed = parse_mcp_servers(doc.unwrap())
    if args.json:
        rows = [describe(n, c) for n, c in parsed.servers.items()]
        rows += [{"name": n, "error": e} for n, e in parsed.errors.items()]
        out.write(json.dumps(sorted(rows, key=lambda r: r["name"]), indent=2) + "\n")
        return 0
    if not parsed.servers and not parsed.errors:
        out.write("No MCP servers configured yet. Try `rootstep mcp add my-tool -- my-command`.\n")
        return 0
    for name in sorted(set(parsed.servers) | set(parsed.errors)):
        if name in parsed.errors:
            out.write(f"{name}  error: {parsed.errors[name]}\n")
            continue
        config = parsed.servers[name]
        status = "enabled" if config.enabled else "disabled"
        transport = config.transport
        if isinstance(transport, StdioTransport):
            target = " ".join([transport.command, *transport.args])
        else:
            target = transport.url
        out.write(f"{name}  {target}  {status}\n")
    return 0


def cmd_get(args: argparse.Namespace, out: Any) -> int:
    doc = load_document(config_path())
    parsed = parse_mcp_servers(doc.unwrap())
    if args.name in parsed.errors:
        raise CliError(parsed.errors[args.name])
    config = parsed.servers.get(args.name)
    if config is None:
        raise CliError(f"No MCP server named '{args.name}' found.")
    data = describe(args.name, config)
    if args.json:
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    out.write(f"{args.name}\n")
    out.write(f"  enabled: {str(config.enabled).lower()}\n")
    for key, value in data["transport"].items():
        if value not in (None, [], {}):
            out.write(f"  {key}: {value if not isinstance(value, list) else ' '.join(value)}\n")
    out.write(f"  remove: rootstep mcp remove {args.name}\n")
    return 0


def cmd_add(args: argparse.Namespace, out: Any) -> int:
    if not SERVER_NAME_RE.match(args.name):
        raise CliError(f"invalid server name '{args.name}' (use letters, numbers, '-', '_')")
    table = server_table(args)
    McpServerConfig.from_toml(table)  # same validation as the runtime
    path = config_path()
    doc = load_document(path)
    servers = _servers(doc)
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        doc["mcp_servers"] = servers
    elif not isinstance(servers, Table | dict):
        raise CliError("`mcp_servers` in config.toml is not a table")
    entry = tomlkit.table()
    for key, value in table.items():
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            entry[key] = inline
        else:
            entry[key] = value
    replaced = args.name in servers
    servers[args.name] = entry
    save_document(path, doc)
    out.write(f"{'Updated' if replaced else 'Added'} global MCP server '{args.name}'.\n")
    return 0


def cmd_remove(args: argparse.Namespace, out: Any) -> int:
    path = config_path()
    doc = load_document(path)
    servers = _servers(doc)
    if servers is None or args.name not in servers:
        out.write(f"No MCP server named '{args.name}' found.\n")
        return 0
    del servers[args.name]
    save_document(path, doc)
    out.write(f"Removed global MCP server '{args.name}'.\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rootstep mcp", description="Manage MCP servers in config.toml")
    sub = parser.add_subparsers(dest="action", required=True)
    p_list = sub.add_parser("list", help="list configured servers")
    p_list.add_argument("--json", action="store_true")
    p_get = sub.add_parser("get", help="show one server")
    p_get.add_argument("name")
    p_get.add_argument("--json", action="store_true")
    p_add = sub.add_parser("add", help="add or replace a server")
    p_add.add_argument("name")
    p_add.add_argument("--url", help="streamable HTTP endpoint")
    p_add.add_argument("--bearer-token-env-var", dest="bearer_token_env_var")
    p_add.add_argument("--env", action="append", metavar="KEY=VALUE", help="stdio server environment")
    p_add.add_argument("command_line", nargs="*", help="-- COMMAND [ARGS...]")
    p_remove = sub.add_parser("remove", help="remove a server")
    p_remove.add_argument("name")
    return parser


def run(argv: Sequence[str], overrides: Sequence[str] = (), *, out: Any = None, err: Any = None) -> int:
    """Entry point of ``rootstep mcp``; returns the exit code."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = _parser()
    argv = list(argv)
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.action == "add":
        args.command_line = list(args.command_line) + command
    handlers = {"list": cmd_list, "get": cmd_get, "add": cmd_add, "remove": cmd_remove}
    try:
        return handlers[args.action](args, out)
    except CliError as exc:
        err.write(f"Error: {exc}\n")
        return 1
    except ValueError as exc:
        err.write(f"Error: invalid server: {exc}\n")
        return 1
