"""rootstep: a Codex-compatible agent app-server whose threads select capability roots."""

__version__ = "0.1.0"
# The Codex protocol version we are wire-compatible with; reported to clients.
CODEX_COMPAT_VERSION = "0.169.0"
