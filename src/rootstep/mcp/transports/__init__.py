"""MCP transports: (read_stream, write_stream) pairs over local processes, executor processes and HTTP."""
