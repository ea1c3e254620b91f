"""Plugin packages: manifests, MCP and connector declarations, skills, and their discovery.

Pure parsing plus one discovery function over an :class:`~rootstep.environments.base.Environment`
(and its batch twin over a ``capabilityRoots/discoverV1`` bundle).
"""

from rootstep.plugins.app_config import AppConfigError, AppDeclaration, parse_plugin_app_config
from rootstep.plugins.discovery import PluginPackage, PluginResolutionError, discover_plugin, plugin_from_discovery
from rootstep.plugins.manifest import MANIFEST_PATHS, ManifestError, PluginInterface, PluginManifest, parse_manifest
from rootstep.plugins.mcp_config import (
    LOCAL_ENVIRONMENT_ID,
    McpConfigError,
    McpParseOutcome,
    ServerParseError,
    parse_executor_plugin_mcp_config,
)
from rootstep.plugins.skills import PluginSkill, SkillParseError, parse_skill
from rootstep.protocol.path_uri import PathUri, PathUriError

__all__ = [
    "LOCAL_ENVIRONMENT_ID",
    "MANIFEST_PATHS",
    "AppConfigError",
    "AppDeclaration",
    "ManifestError",
    "McpConfigError",
    "McpParseOutcome",
    "PathUri",
    "PathUriError",
    "PluginInterface",
    "PluginManifest",
    "PluginPackage",
    "PluginResolutionError",
    "PluginSkill",
    "ServerParseError",
    "SkillParseError",
    "discover_plugin",
    "parse_executor_plugin_mcp_config",
    "parse_manifest",
    "parse_plugin_app_config",
    "parse_skill",
    "plugin_from_discovery",
]
