"""Executor environments: where plugin files live, stdio MCP servers run and HTTP goes out."""

from rootstep.environments.base import Environment, FileMetadata, StdioLaunch

__all__ = ["Environment", "FileMetadata", "StdioLaunch"]
