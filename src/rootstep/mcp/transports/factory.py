"""Which stream pair a server gets: decided from its config and where it runs.

``environment_id == "local"``: a host child process (:mod:`.local_stdio`) or a host HTTP client
(:mod:`.http`). Any other environment: a process inside that executor over its ``process/*``
methods (:mod:`.executor_process`), or its ``http_client`` — the session above never knows
the difference. Environments only hand over a launch (:class:`StdioLaunch`); MCP framing stays
here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2
from mcp.client._transport import TransportStreams

from rootstep.config.mcp_servers import HttpTransport, McpServerConfig, StdioTransport
from rootstep.environments.base import Environment, StdioLaunch
from rootstep.environments.env_policy import host_stdio_env
from rootstep.environments.local import LocalEnvironment
from rootstep.environments.remote import RemoteEnvironment
from rootstep.mcp.credential_names import credential_name
from rootstep.mcp.start_slots import StartSlots
from rootstep.mcp.transports.executor_process import executor_process_transport
from rootstep.mcp.transports.http import http_transport, local_client
from rootstep.mcp.transports.local_stdio import local_stdio_transport

LOCAL = "local"

class TransportFactory(Protocol):
    """Opens a server's stream pair; ``start_slot`` is held around its start-up (see :mod:`..start_slots`)."""

    def __call__(self, name: str, config: McpServerConfig) -> AbstractAsyncContextManager[TransportStreams]: ...

    def start_slot(self, config: McpServerConfig) -> AbstractAsyncContextManager[object]: ...


EnvironmentLookup = Callable[[str], Environment | None]
AuthLookup = Callable[[str, HttpTransport], httpx2.Auth | None]


class TransportError(RuntimeError):
    """The transport cannot be opened at all (unknown environment, bad env_vars...)."""


def stdio_launch(transport: StdioTransport, environ: Mapping[str, str] | None = None) -> StdioLaunch:
    """A launch for an executor: host-sourced env_vars are resolved here, the rest there."""
    source = os.environ if environ is None else environ
    env = dict(transport.env)
    remote: list[str] = []
    for var in transport.env_vars:
        if var.source == "local":
            if var.name in source:
                env.setdefault(var.name, source[var.name])
        else:
            remote.append(var.name)
    return StdioLaunch(
        command=transport.command,
        args=transport.args,
        cwd=transport.cwd,
        env=tuple(sorted(env.items())),
        remote_env_vars=tuple(remote),
    )


def stdio_transport(
    environment: Environment, launch: StdioLaunch, *, label: str = "mcp"
) -> AbstractAsyncContextManager[TransportStreams]:
    """A stdio server started inside ``environment``: a process in an executor, or a child of
    this host (default pass-through variables plus the launch's literal ones)."""
    if isinstance(environment, RemoteEnvironment):
        return executor_process_transport(environment.client, launch)
    if isinstance(environment, LocalEnvironment):
        if launch.remote_env_vars:
            raise TransportError("`remote` env_vars are only valid for servers that run in an executor")
        env = host_stdio_env((), dict(launch.env))
        return local_stdio_transport(
            launch.command, launch.args, env=env, cwd=launch.cwd or environment.default_cwd, label=label
        )
    raise TransportError(f"environment `{environment.id}` cannot run a stdio MCP server")


@dataclass(frozen=True)
class DefaultTransports:
    """The standard :data:`TransportFactory`: local processes/HTTP, or an environment's."""

    environments: EnvironmentLookup | None = None
    default_cwd: str | None = None
    auth: AuthLookup | None = None
    environ: Mapping[str, str] | None = field(default=None, compare=False)
    # The thread's ElicitationRouter: managers built over these transports forward servers'
    # elicitations to the client through it (see ConnectionManager).
    elicitation: Any = field(default=None, compare=False)
    # The app-server's start-up slots (None: servers start without waiting for one).
    start_slots: StartSlots | None = field(default=None, compare=False)

    def start_slot(self, config: McpServerConfig) -> AbstractAsyncContextManager[object]:
        return self.start_slots.slot(config) if self.start_slots is not None else nullcontext()

    def __call__(self, name: str, config: McpServerConfig) -> AbstractAsyncContextManager[TransportStreams]:
        transport = config.transport
        # OAuth tokens of a server in an executor environment are stored under an executor-namespaced name.
        auth = (
            self.auth(credential_name(name, config.environment_id), transport)
            if self.auth and isinstance(transport, HttpTransport)
            else None
        )
        if config.environment_id == LOCAL:
            if isinstance(transport, StdioTransport):
                remote = [v.name for v in transport.env_vars if v.source == "remote"]
                if remote:
                    raise TransportError(f"env_vars {remote} have source `remote` but the server runs locally")
                env = host_stdio_env([v.name for v in transport.env_vars], dict(transport.env), self.environ)
                return local_stdio_transport(
                    transport.command, transport.args, env=env, cwd=transport.cwd or self.default_cwd,
                    label=f"mcp[{name}]",
                )
            return http_transport(transport, client_factory=local_client, auth=auth, environ=self.environ)
        environment = self.environments(config.environment_id) if self.environments else None
        if environment is None:
            raise TransportError(f"environment `{config.environment_id}` is not available")
        if isinstance(transport, StdioTransport):
            return stdio_transport(environment, stdio_launch(transport, self.environ), label=f"mcp[{name}]")
        return http_transport(
            transport,
            client_factory=lambda headers, auth_: environment.http_client(headers=headers, auth=auth_),
            auth=auth,
            environ=self.environ,
        )
