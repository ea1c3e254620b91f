"""The MCP SDK's per-request tracing is dropped only when nothing in the process traces."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str, **env: str) -> str:
    import os

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


PROBE = """
    from mcp.shared import jsonrpc_dispatcher as d
    from rootstep.mcp.telemetry import quiet_sdk_tracing
    before = d.otel_span
    done = quiet_sdk_tracing()
    meta = {}
    with d.otel_span("MCP send tools/call x", kind=None, attributes={}) as span:
        span.set_attributes({"a": 1})
        d.inject_trace_context(meta)
    print(done, d.otel_span is before, meta)
"""


def test_without_a_tracer_provider_the_sdk_helpers_become_no_ops() -> None:
    assert _run(textwrap.dedent(PROBE)) == "True False {}"


def test_opt_out_keeps_the_sdk_spans() -> None:
    assert _run(textwrap.dedent(PROBE), ROOTSTEP_MCP_OTEL="1") == "False True {}"


def test_an_installed_tracer_provider_keeps_the_sdk_spans() -> None:
    code = """
        from opentelemetry import trace

        class Provider(trace.TracerProvider):
            def get_tracer(self, *args, **kwargs):
                return trace.NoOpTracer()

        trace.set_tracer_provider(Provider())
    """
    assert _run(textwrap.dedent(code) + textwrap.dedent(PROBE)).startswith("False True")
