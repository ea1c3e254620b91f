"""Wire shapes of the exec-server protocol (spec exec-server.md §1–§2), both directions.

Every params/result/notification object is a pydantic model with camelCase aliases. Models
ignore unknown fields, so a newer peer (the 0.169 binary adds ``environmentInfo``,
``sandboxType`` and many capability flags) never breaks an older one. ``wire()`` dumps a
model *with* its null members, because the Rust peer spells them out (``"sandbox":null``).

Also here: ``PathUri`` helpers — the protocol names every path as a ``file:`` URI, and both
sides must agree on its percent-encoding (spec §2.4.1).
"""

from __future__ import annotations

import base64
import os
import urllib.parse
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from rootstep.file_uri import path_to_uri as path_to_uri
from rootstep.jsonrpc.errors import INVALID_PARAMS, JsonRpcError

# --- method names ---------------------------------------------------------------------------

INITIALIZE = "initialize"
INITIALIZED = "initialized"
ENVIRONMENT_INFO = "environment/info"
ENVIRONMENT_STATUS = "environment/status"
PROCESS_START = "process/start"
PROCESS_READ = "process/read"
PROCESS_WRITE = "process/write"
PROCESS_SIGNAL = "process/signal"
PROCESS_TERMINATE = "process/terminate"
PROCESS_OUTPUT = "process/output"
PROCESS_EXITED = "process/exited"
PROCESS_CLOSED = "process/closed"
FS_GET_METADATA = "fs/getMetadata"
FS_READ_FILE = "fs/readFile"
FS_READ_DIRECTORY = "fs/readDirectory"
FS_CANONICALIZE = "fs/canonicalize"
FS_WALK = "fs/walk"
FS_OPEN = "fs/open"
FS_READ_BLOCK = "fs/readBlock"
FS_CLOSE = "fs/close"
FS_WRITE_BLOCK = "fs/writeBlock"
FS_WRITE_FILE = "fs/writeFile"
FS_CREATE_DIRECTORY = "fs/createDirectory"
FS_REMOVE = "fs/remove"
FS_COPY = "fs/copy"
# rootstep extension (0.169 has no rename): an atomic same-filesystem rename, for patch commits.
FS_RENAME = "fs/rename"
HTTP_REQUEST = "http/request"
HTTP_BODY_DELTA = "http/request/bodyDelta"
CAPABILITY_ROOTS_DISCOVER_V1 = "capabilityRoots/discoverV1"


class WireModel(BaseModel):
    """Base of every wire object: camelCase on the wire, unknown members ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)


def wire(model: BaseModel) -> dict[str, Any]:
    """The JSON object for a model, nulls included (peers spell optional members out)."""
    return model.model_dump(mode="json", by_alias=True)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise JsonRpcError(INVALID_PARAMS, f"invalid base64: {exc}") from None


# --- handshake ------------------------------------------------------------------------------


class InitializeParams(WireModel):
    client_name: str
    resume_session_id: str | None = None


class ShellInfo(WireModel):
    name: str
    path: str


class EnvironmentCapabilities(WireModel):
    network_proxy_launch: bool = False


class EnvironmentInfo(WireModel):
    shell: ShellInfo
    cwd: str | None = None
    capabilities: EnvironmentCapabilities = Field(default_factory=EnvironmentCapabilities)


class InitializeResult(WireModel):
    session_id: str
    environment_info: EnvironmentInfo | None = None


class EnvironmentStatusResult(WireModel):
    status: Literal["ready"] = "ready"


# --- processes ------------------------------------------------------------------------------


class ExecEnvPolicy(WireModel):
    """How the executor builds a child's environment from its own (spec §2.3)."""

    inherit: Literal["core", "all", "none"]
    ignore_default_excludes: bool
    exclude: list[str]
    set: dict[str, str]
    include_only: list[str]


class ProcessStartParams(WireModel):
    process_id: str
    argv: list[str]
    cwd: str
    env: dict[str, str]
    env_policy: ExecEnvPolicy | None = None
    tty: bool
    pipe_stdin: bool = False
    arg0: str | None = None
    sandbox: Any = None
    enforce_managed_network: bool = False
    managed_network: Any = None


class ProcessStartResult(WireModel):
    process_id: str
    sandbox_type: str | None = "none"


class ProcessReadParams(WireModel):
    process_id: str
    after_seq: int | None = None
    max_bytes: int | None = None
    wait_ms: int | None = None


class ProcessOutputChunk(WireModel):
    seq: int
    stream: Literal["stdout", "stderr", "pty"]
    chunk: str


class ProcessReadResult(WireModel):
    chunks: list[ProcessOutputChunk]
    next_seq: int
    exited: bool
    exit_code: int | None = None
    closed: bool
    failure: str | None = None
    sandbox_denied: bool = False


class ProcessWriteParams(WireModel):
    process_id: str
    chunk: str
    write_id: str


WriteStatus = Literal["accepted", "unknownProcess", "stdinClosed", "starting"]


class ProcessWriteResult(WireModel):
    status: WriteStatus


class ProcessSignalParams(WireModel):
    process_id: str
    signal: Literal["interrupt"] = "interrupt"


class ProcessTerminateParams(WireModel):
    process_id: str


class ProcessTerminateResult(WireModel):
    running: bool


class ProcessOutputNotification(WireModel):
    process_id: str
    seq: int
    stream: Literal["stdout", "stderr", "pty"]
    chunk: str


class ProcessExitedNotification(WireModel):
    process_id: str
    seq: int
    exit_code: int
    sandbox_denied: bool = False


class ProcessClosedNotification(WireModel):
    process_id: str
    seq: int


# --- filesystem -----------------------------------------------------------------------------


class FsPathParams(WireModel):
    path: str
    sandbox: Any = None


class FsMetadataResult(WireModel):
    is_directory: bool
    is_file: bool
    is_symlink: bool = False
    size: int = 0
    created_at_ms: int = 0
    modified_at_ms: int = 0


class FsReadFileResult(WireModel):
    data_base64: str


class FsDirectoryEntry(WireModel):
    file_name: str
    is_directory: bool
    is_file: bool


class FsReadDirectoryResult(WireModel):
    entries: list[FsDirectoryEntry]


class FsCanonicalizeResult(WireModel):
    path: str


class FsWalkOptions(WireModel):
    max_depth: int
    max_directories: int
    max_entries: int
    follow_directory_symlinks: bool
    prune_hidden_directories: bool = False


class FsWalkParams(WireModel):
    path: str
    options: FsWalkOptions
    sandbox: Any = None


class FsWalkEntry(WireModel):
    path: str
    kind: Literal["file", "directory"]


class FsWalkError(WireModel):
    path: str
    message: str


class FsWalkResult(WireModel):
    entries: list[FsWalkEntry]
    errors: list[FsWalkError]
    truncated: bool


class FsOpenParams(WireModel):
    handle_id: str
    path: str
    mode: Literal["read", "replace"] = "read"  # replace: create or truncate, for fs/writeBlock
    sandbox: Any = None


class FsOpenResult(WireModel):
    handle_id: str


class FsReadBlockParams(WireModel):
    handle_id: str
    offset: int = Field(ge=0)
    len: int = Field(ge=0)


class FsReadBlockResult(WireModel):
    chunk: str
    eof: bool


class FsWriteBlockParams(WireModel):
    handle_id: str
    offset: int = Field(ge=0)
    chunk: str


class FsCloseParams(WireModel):
    handle_id: str


class FsWriteFileParams(WireModel):
    path: str
    data_base64: str
    sandbox: Any = None


class FsCreateDirectoryParams(WireModel):
    path: str
    recursive: bool | None = None
    sandbox: Any = None


class FsRemoveParams(WireModel):
    path: str
    recursive: bool | None = None
    force: bool | None = None
    sandbox: Any = None


class FsCopyParams(WireModel):
    source_path: str
    destination_path: str
    recursive: bool
    sandbox: Any = None


class FsRenameParams(WireModel):
    source_path: str
    destination_path: str
    sandbox: Any = None


# --- http -----------------------------------------------------------------------------------


class HttpHeader(WireModel):
    name: str
    value: str


class HttpRequestParams(WireModel):
    method: str
    url: str
    headers: list[HttpHeader] = Field(default_factory=list)
    body_base64: str | None = None
    timeout_ms: int | None = None
    redirect_policy: Literal["follow", "stop"] = "follow"
    request_id: str
    stream_response: bool = False


class HttpRequestResult(WireModel):
    status: int
    headers: list[HttpHeader]
    body_base64: str


class HttpBodyDeltaNotification(WireModel):
    request_id: str
    seq: int
    delta_base64: str
    done: bool
    error: str | None = None


# --- capability discovery -------------------------------------------------------------------


class CapabilityRootRequest(WireModel):
    id: str
    path: str
    sandbox: Any = None


class DiscoverV1Params(WireModel):
    roots: list[CapabilityRootRequest]


class CapabilityFile(WireModel):
    path: str
    contents: str


class CapabilityPlugin(WireModel):
    manifest: CapabilityFile
    mcp_config: CapabilityFile | None = None
    apps_config: CapabilityFile | None = None


class CapabilitySkill(WireModel):
    instructions: CapabilityFile
    metadata: CapabilityFile | None = None


class CapabilityRootDiscovery(WireModel):
    id: str
    path: str
    plugin: CapabilityPlugin | None = None
    skills: list[CapabilitySkill] = Field(default_factory=list)
    namespace_manifests: list[CapabilityFile] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None


class DiscoverV1Result(WireModel):
    roots: list[CapabilityRootDiscovery]


# --- PathUri (spec §2.4.1) ------------------------------------------------------------------

# Everything the WHATWG path percent-encode set leaves alone, minus '%', which is encoded so
# that a literal percent in a file name survives the round trip.


def uri_to_path(uri: str) -> str:
    """Parse a ``file:`` URI into a native path; errors are ``-32602`` as the reference says."""
    scheme, sep, rest = uri.partition(":")
    if (
        not sep
        or not scheme
        or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()
        or not scheme[0].isalpha()
    ):
        raise JsonRpcError(INVALID_PARAMS, "invalid URI: relative URL without a base")
    if scheme.lower() != "file":
        raise JsonRpcError(INVALID_PARAMS, f"unsupported path URI scheme `{scheme.lower()}`")
    if rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        if authority not in ("", "localhost"):
            raise JsonRpcError(INVALID_PARAMS, f"unsupported file URI host `{authority}`")
        rest = slash + tail
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    if not rest.startswith("/"):
        rest = "/" + rest
    return os.fsdecode(urllib.parse.unquote_to_bytes(rest))
