"""The sandbox a command runs in: policy (wire + config), resolved permissions, enforcement."""

from rootstep.sandbox.bwrap import SandboxLaunch, SandboxUnavailable, probe, wrap
from rootstep.sandbox.denial import is_likely_sandbox_denied
from rootstep.sandbox.policy import (
    DangerFullAccessPolicy,
    ExternalSandboxPolicy,
    ReadOnlyPolicy,
    SandboxPermissions,
    SandboxPolicyError,
    WorkspaceWritePolicy,
    WritableRoot,
    mode_of,
    network_enabled,
    parse_sandbox_policy,
    policy_from_config,
    policy_from_mode,
    resolve_permissions,
)

__all__ = [
    "DangerFullAccessPolicy", "ExternalSandboxPolicy", "ReadOnlyPolicy", "SandboxLaunch", "SandboxPermissions",
    "SandboxPolicyError", "SandboxUnavailable", "WorkspaceWritePolicy", "WritableRoot", "is_likely_sandbox_denied",
    "mode_of", "network_enabled", "parse_sandbox_policy", "policy_from_config", "policy_from_mode", "probe",
    "resolve_permissions", "wrap",
]
