"""apply_patch: the Codex patch format, planned purely, applied through an ``Environment``."""

from rootstep.agent_tools.apply_patch.applier import (
    PatchWriteError,
    apply_patch_text,
    commit_plan,
    read_text,
    verify_patch,
)
from rootstep.agent_tools.apply_patch.model import AddFile, DeleteFile, Hunk, Patch, UpdateChunk, UpdateFile
from rootstep.agent_tools.apply_patch.parser import PatchParseError, parse_patch, render_patch
from rootstep.agent_tools.apply_patch.planner import (
    FileChange,
    PatchPlan,
    PatchVerificationError,
    ReadFailure,
    paths_to_read,
    plan_patch,
)

__all__ = [
    "AddFile", "DeleteFile", "FileChange", "Hunk", "Patch", "PatchParseError", "PatchPlan",
    "PatchVerificationError", "PatchWriteError", "ReadFailure", "UpdateChunk", "UpdateFile",
    "apply_patch_text", "commit_plan", "parse_patch", "paths_to_read", "plan_patch", "read_text",
    "render_patch", "verify_patch",
]
