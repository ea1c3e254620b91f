"""``rootstep mcp list|get|add|remove|login|logout``: ``[mcp_servers]`` of ``CODEX_HOME/config.toml``.

Edits go through ``tomlkit`` so comments, ordering and formatting of everything else in the
file survive, and through :mod:`rootstep.config.writer` (one lock for every writer, an atomic
replace that keeps the file private). ``add`` validates the new server with the same parser the runtime uses before
writing, so a server the runtime would reject is never saved.

``login NAME`` runs the OAuth flow of :mod:`rootstep.mcp.oauth` for a streamable-HTTP server
(prints the authorization URL, waits for the loopback callback, stores the tokens where
``mcp_oauth_credentials_store`` says); ``logout NAME`` removes the stored tokens. Both read the
effective config (config.toml + ``-c`` overrides), as the app-server does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit
from tomlkit.items import Table

from rootstep.config.home import codex_home
from rootstep.config.mcp_servers import (
    SERVER_NAME_RE,
    HttpTransport,
    McpServerConfig,
    StdioTransport,
    parse_mcp_servers,
)
from rootstep.config.writer import ConfigDocument, ConfigFileError, locked_config, read_document

if TYPE_CHECKING:
    from rootstep.mcp.oauth import OAuthSettings


class CliError(Exception):
    pass


def config_path() -> Path:
    return codex_home() / "config.toml"


def load_document(path: Path) -> tomlkit.TOMLDocument:
    try:
        return read_document(path)
    except ConfigFileError as exc:
        raise CliError(str(exc)) from exc


@contextlib.contextmanager
def editing(path: Path) -> Iterator[ConfigDocument]:
    """``path`` under the config writers' lock (:mod:`rootstep.config.writer`)."""
    try:
        with locked_config(path) as config:
            yield config
    except ConfigFileError as exc:
        raise CliError(str(exc)) from exc


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
    entry = tomlkit.table()
    for key, value in table.items():
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            entry[key] = inline
        else:
            entry[key] = value
    with editing(config_path()) as config:
        servers = _servers(config.doc)
        if servers is None:
            servers = tomlkit.table(is_super_table=True)
            config.doc["mcp_servers"] = servers
        elif not isinstance(servers, Table | dict):
            raise CliError("`mcp_servers` in config.toml is not a table")
        replaced = args.name in servers
        servers[args.name] = entry
        config.save()
    out.write(f"{'Updated' if replaced else 'Added'} global MCP server '{args.name}'.\n")
    return 0


def cmd_remove(args: argparse.Namespace, out: Any) -> int:
    with editing(config_path()) as config:
        servers = _servers(config.doc)
        if servers is None or args.name not in servers:
            out.write(f"No MCP server named '{args.name}' found.\n")
            return 0
        del servers[args.name]
        config.save()
    out.write(f"Removed global MCP server '{args.name}'.\n")
    return 0


def _oauth_target(name: str, overrides: Sequence[str]) -> tuple[OAuthSettings, McpServerConfig]:
    """The effective config's server ``name`` (must be streamable HTTP) and the OAuth settings."""
    from rootstep.config.config import load_config

    config = load_config(codex_home(), overrides)
    parsed = config.mcp_servers
    if name in parsed.errors:
        raise CliError(parsed.errors[name])
    server = parsed.servers.get(name)
    if server is None:
        raise CliError(f"No MCP server named '{name}' found.")
    if not isinstance(server.transport, HttpTransport):
        raise CliError("OAuth login is only supported for streamable HTTP servers.")
    return config.oauth, server


def _split_scopes(value: str | None) -> list[str] | None:
    if value is None:
        return None
    scopes = [s.strip() for s in value.split(",") if s.strip()]
    return scopes or None


async def _login(name: str, server: McpServerConfig, settings: OAuthSettings, scopes: list[str] | None,
                 timeout: float | None, out: Any, registration: str | None = None) -> tuple[bool, str | None]:
    import httpx2

    from rootstep.mcp.oauth import perform_login

    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), trust_env=True) as http:
        login = await perform_login(name, server, http_client=http, settings=settings, scopes=scopes,
                                    timeout_secs=timeout, client_registration=registration)  # type: ignore[arg-type]
        async with login:
            out.write(f"Authorize `{name}` by opening this URL in your browser:\n{login.authorization_url}\n")
            out.flush()
            result = await login.wait()
    return result.success, result.error


def cmd_login(args: argparse.Namespace, out: Any, overrides: Sequence[str] = ()) -> int:
    """Exit 0 once the tokens are stored; 1 when the flow cannot start, fails or times out."""
    import anyio

    from rootstep.mcp.oauth import OAuthError

    settings, server = _oauth_target(args.name, overrides)
    try:
        success, error = anyio.run(
            _login, args.name, server, settings, _split_scopes(args.scopes), args.timeout, out,
            getattr(args, "oauth_client_registration", None),
        )
    except OAuthError as exc:
        raise CliError(f"failed to login to MCP server '{args.name}': {exc}") from None
    if not success:
        raise CliError(f"OAuth login for MCP server '{args.name}' failed: {error}")
    out.write(f"Successfully logged in to MCP server '{args.name}'.\n")
    return 0


def cmd_logout(args: argparse.Namespace, out: Any, overrides: Sequence[str] = ()) -> int:
    """Remove the server's stored tokens (file and keyring); 1 when there were none."""
    import anyio

    from rootstep.mcp.oauth import OAuthError, delete_credentials

    settings, server = _oauth_target(args.name, overrides)
    assert isinstance(server.transport, HttpTransport)
    try:
        removed = anyio.run(delete_credentials, settings, args.name, server.transport.url)
    except OAuthError as exc:
        raise CliError(f"failed to delete OAuth credentials for '{args.name}': {exc}") from None
    if not removed:
        raise CliError(f"No OAuth credentials stored for server '{args.name}'.")
    out.write(f"Removed OAuth credentials for '{args.name}'.\n")
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
    p_login = sub.add_parser("login", help="log in to a streamable HTTP server with OAuth")
    p_login.add_argument("name")
    p_login.add_argument("--scopes", help="comma-separated OAuth scopes to request")
    p_login.add_argument("--timeout", type=float, default=None, metavar="SECS",
                         help="how long to wait for the browser callback (default 300)")
    p_login.add_argument("--oauth-client-registration", dest="oauth_client_registration",
                         choices=("auto", "cimd", "dcr"),
                         type=str.lower, default=None,
                         help="OAuth client-registration strategy for this login only (as codex 0.169)")
    p_logout = sub.add_parser("logout", help="remove stored OAuth credentials of a server")
    p_logout.add_argument("name")
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
        if args.action == "login":
            return cmd_login(args, out, overrides)
        if args.action == "logout":
            return cmd_logout(args, out, overrides)
        return handlers[args.action](args, out)
    except CliError as exc:
        err.write(f"Error: {exc}\n")
        return 1
    except ValueError as exc:
        err.write(f"Error: invalid server: {exc}\n")
        return 1
