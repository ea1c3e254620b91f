"""MCP servers of a thread: configuration, transports, connections, tool catalog, OAuth.

Built on the official ``mcp`` SDK. (Inside this package ``import mcp`` still means the SDK:
imports are absolute.)
"""
