"""Tools the agent itself offers the model (as opposed to MCP servers' tools).

Each subpackage is an engine with a clean API that a thread's tool router plugs in; none of them
knows about the turn loop or the app-server.
"""
