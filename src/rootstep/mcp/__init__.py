"""MCP servers of a thread: configuration, transports, connections, tool catalog, OAuth.

Built on the official ``mcp`` SDK. (Inside this package ``import mcp`` still means the SDK:
imports are absolute.) Nothing is re-exported here, so importing ``rootstep.config.mcp_servers``
stays cheap; the public surface, by module:

- :mod:`.config` — ``parse_mcp_servers(config_mapping) -> McpServersConfig(servers, errors)``.
- :mod:`.transports.factory` — ``DefaultTransports(environments=, default_cwd=, auth=)``, the
  ``(name, config) -> stream-pair context`` factory; :mod:`.transports.local_stdio`,
  :mod:`.transports.http`.
- :mod:`.manager` — ``ConnectionManager(servers, transports=, on_status=)``: ``start()``,
  ``wait_ready()``, ``call_tool(server, tool, args, meta=, timeout=, progress=)``, ``aclose()``.
- :mod:`.runtime` — ``McpRuntime(servers, manager, provenance=)``, the
  snapshot a step captures (``acquire``/``release``/``retire``, ``catalog()``);
  ``build_catalog`` (pure).
- :mod:`.tools` — model-visible names and the Responses ``tools`` entries (pure).
- :mod:`.output` — ``function_call_output``, ``item_result``, ``direct_call_response`` (pure).
- :mod:`.step_tools` — ``McpStepTools``: one step's MCP tools (its thread's are
  :class:`rootstep.extensions.thread_mcp.ThreadMcp`).
- :mod:`.status` — ``list_server_status``, ``call_server_tool`` for the app-server methods.
- :mod:`.wire` — wire models of those methods and notifications.
- :mod:`.cli` — ``rootstep mcp list|get|add|remove``.
"""
