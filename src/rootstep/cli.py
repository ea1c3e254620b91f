"""Command line: thin dispatch to the owning modules, imported lazily so start-up stays fast."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence


def _fast_app_server_args(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """``[-c KV]... app-server [--listen URL] [-c KV]...`` parsed without argparse.

    argparse and the shutil/locale imports it triggers are about a third of the app-server's
    start-up budget (cold start to ``initialize``); this, the invocation every client uses, is
    parsed by hand. Anything else returns None and goes through argparse as usual.
    """
    overrides: list[str] = []
    listen = "stdio://"
    seen = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-c", "--config") and i + 1 < len(argv):
            overrides.append(argv[i + 1])
            i += 2
        elif arg.startswith("--config="):
            overrides.append(arg.partition("=")[2])
            i += 1
        elif arg == "app-server" and not seen:
            seen = True
            i += 1
        elif seen and arg == "--listen" and i + 1 < len(argv):
            listen = argv[i + 1]
            i += 2
        elif seen and arg.startswith("--listen="):
            listen = arg.partition("=")[2]
            i += 1
        elif seen and arg == "--disable-plugin-startup-tasks-for-tests":
            i += 1
        else:
            return None
    return (listen, overrides) if seen else None


def _parser() -> argparse.ArgumentParser:
    import argparse

    from rootstep import CODEX_COMPAT_VERSION, __version__

    parser = argparse.ArgumentParser(prog="rootstep", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rootstep {__version__} (codex {CODEX_COMPAT_VERSION})")
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config.toml value (dotted key, TOML value); repeatable",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    app = sub.add_parser("app-server", help="serve the Codex app-server protocol")
    app.add_argument(
        "--listen",
        default="stdio://",
        metavar="URL",
        help="transport: stdio:// (default; one client, ends at stdin EOF), ws://IP:PORT (loopback "
        "websocket; the bound address is printed on stderr; /readyz), unix:// or unix://PATH "
        "(websocket over a unix socket; default $CODEX_HOME/app-server-control/app-server-control.sock), "
        "off (no listener). ws/unix serve many clients on shared threads until SIGTERM/SIGINT",
    )
    app.add_argument("--disable-plugin-startup-tasks-for-tests", action="store_true", help=argparse.SUPPRESS)
    app.add_argument("-c", "--config", action="append", dest="config_late", default=[], metavar="KEY=VALUE")

    exe = sub.add_parser("exec-server", help="serve the exec-server protocol (an executor)")
    exe.add_argument("--listen", default="ws://127.0.0.1:0", help="stdio | stdio:// | ws://IP:PORT")
    exe.add_argument("--ws-auth", choices=["capability-token", "signed-bearer-token"], default=None, metavar="MODE",
                     help="authentication of incoming websocket connections (needed off loopback)")
    exe.add_argument("--ws-token-file", default=None, metavar="PATH", help="the capability-token file")
    exe.add_argument("--ws-token-sha256", default=None, metavar="HEX", help="SHA-256 of the capability token")
    exe.add_argument("--ws-shared-secret-file", default=None, metavar="PATH",
                     help="HS256 secret of signed bearer tokens")
    exe.add_argument("--ws-issuer", default=None, metavar="ISSUER", help="expected issuer of signed bearer tokens")
    exe.add_argument("--ws-audience", default=None, metavar="AUDIENCE",
                     help="expected audience of signed bearer tokens")
    exe.add_argument("--ws-max-clock-skew-seconds", type=int, default=None, metavar="SECONDS",
                     help="clock skew allowed when checking signed bearer tokens (default 30)")

    demo = sub.add_parser("demo", help="run an offline demo conversation")
    demo.add_argument("--model", default=None, help="talk to the real API (needs OPENAI_API_KEY)")

    mcp = sub.add_parser("mcp", help="manage [mcp_servers] in config.toml")
    mcp.add_argument("mcp_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    fast = _fast_app_server_args(sys.argv[1:] if argv is None else list(argv))
    if fast is not None:
        from rootstep.app_server.main import run as run_app_server

        return run_app_server(listen=fast[0], overrides=fast[1])
    args = _parser().parse_args(argv)
    overrides = list(args.config) + list(getattr(args, "config_late", []))
    if args.command == "app-server":
        from rootstep.app_server.main import run as run_app_server

        return run_app_server(listen=args.listen, overrides=overrides)
    if args.command == "exec-server":
        from rootstep.exec_server.main import run as run_exec_server

        auth = {key: getattr(args, key) for key in (
            "ws_auth", "ws_token_file", "ws_token_sha256", "ws_shared_secret_file", "ws_issuer", "ws_audience",
            "ws_max_clock_skew_seconds")}
        return run_exec_server(listen=args.listen, auth_args=auth)
    if args.command == "demo":
        from rootstep.demo import run as run_demo

        return run_demo(model=args.model, overrides=overrides)
    if args.command == "mcp":
        from rootstep.mcp.cli import run as run_mcp

        return run_mcp(args.mcp_args, overrides=overrides)
    return 2


if __name__ == "__main__":
    sys.exit(main())
