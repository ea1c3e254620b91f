"""The app-server imports the MCP SDK's client without the SDK's server side, and code that
uses the SDK's package-level names still gets them (rootstep.mcp.sdk_packages)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SERVER_SIDE = ("mcp.server", "starlette", "uvicorn", "sse_starlette")


def _run(code: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_client_modules_load_without_the_sdk_server() -> None:
    result = _run(f"""
        import json, sys
        from rootstep.mcp.sdk_packages import defer_package_inits, deferred
        defer_package_inits()
        import rootstep.mcp.connection, rootstep.mcp.transports.factory, rootstep.mcp.status, rootstep.mcp.oauth
        loaded = [m for m in {SERVER_SIDE!r} if m in sys.modules]
        print(json.dumps({{"loaded": loaded, "deferred": [deferred("mcp"), deferred("mcp.client")]}}))
    """)
    assert result == {"loaded": [], "deferred": [True, True]}


def test_without_it_the_sdk_package_drags_its_server_in() -> None:
    """What the deferral saves (and that the first test could fail)."""
    result = _run(f"""
        import json, sys
        import rootstep.mcp.connection
        print(json.dumps({{"loaded": [m for m in {SERVER_SIDE!r} if m in sys.modules]}}))
    """)
    assert "mcp.server" in result["loaded"]


def test_package_names_still_resolve_after_deferral() -> None:
    result = _run("""
        import json
        from rootstep.mcp.sdk_packages import defer_package_inits, deferred
        defer_package_inits()
        import mcp.client.session
        from mcp import ClientSession  # runs mcp/__init__ now
        import mcp
        from mcp.client import Client  # and mcp/client/__init__
        print(json.dumps({
            "same": ClientSession is mcp.client.session.ClientSession,
            "client": Client.__name__,
            "deferred": [deferred("mcp"), deferred("mcp.client")],
            "all": "ClientSession" in mcp.__all__,
        }))
    """)
    assert result == {"same": True, "client": "Client", "deferred": [False, False], "all": True}


def test_an_already_imported_sdk_is_left_alone() -> None:
    result = _run("""
        import json, mcp
        from rootstep.mcp.sdk_packages import defer_package_inits, deferred
        defer_package_inits()
        print(json.dumps({"deferred": deferred("mcp"), "client": mcp.ClientSession.__name__}))
    """)
    assert result == {"deferred": False, "client": "ClientSession"}
