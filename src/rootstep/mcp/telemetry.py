"""OpenTelemetry in the MCP SDK's request path: off unless this process traces.

The SDK's dispatcher opens a span around every request it sends and injects W3C trace
context into the request's ``_meta``. The app-server installs no tracer provider, so those
spans record nothing and the injected context is empty, yet each one still attaches and
detaches a context and runs the propagators: measurable on every tool call's hot path (see
``bench/bench_mcp.py``). :func:`quiet_sdk_tracing` swaps the dispatcher's two helpers for
no-ops while no tracer provider is installed; ``ROOTSTEP_MCP_OTEL=1`` keeps the SDK's own.
Connections call :func:`quiet_sdk_tracing_once` as they start, so a program that installs
its tracer provider before its first MCP connection keeps its spans.
"""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from typing import Any

log = logging.getLogger(__name__)

OPT_OUT_ENV = "ROOTSTEP_MCP_OTEL"


def tracing_installed() -> bool:
    """Whether a real tracer provider is set in this process (then spans are kept)."""
    from opentelemetry import trace

    return not isinstance(trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def quiet_sdk_tracing(environ: Any = None) -> bool:
    """Make the SDK's per-request span and trace-context injection no-ops; True if done."""
    environ = os.environ if environ is None else environ
    if environ.get(OPT_OUT_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        from mcp.shared import jsonrpc_dispatcher
        from opentelemetry.trace import INVALID_SPAN
    except ImportError:  # pragma: no cover - both ship with the mcp SDK
        return False
    if tracing_installed():
        return False
    if not (hasattr(jsonrpc_dispatcher, "otel_span") and hasattr(jsonrpc_dispatcher, "inject_trace_context")):
        log.debug("mcp SDK without the expected tracing helpers; left as is")
        return False
    span = nullcontext(INVALID_SPAN)  # reusable: entering it only returns the non-recording span
    setattr(jsonrpc_dispatcher, "otel_span", lambda *args, **kwargs: span)  # noqa: B010 - not exported
    setattr(jsonrpc_dispatcher, "inject_trace_context", _inject_nothing)  # noqa: B010
    return True


_decided = False


def quiet_sdk_tracing_once() -> None:
    """:func:`quiet_sdk_tracing`, decided once per process."""
    global _decided
    if not _decided:
        _decided = True
        quiet_sdk_tracing()


def _inject_nothing(meta: dict[str, Any]) -> None:
    """No span is recording, so there is no trace context to carry."""
