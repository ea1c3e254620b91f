"""A stdlib-only stdio MCP server for the parallel-start figure.

Ten Python servers that each import the ``mcp`` SDK spend ~1 s of CPU apiece; on a 2-core
machine their start-up is CPU-bound whatever the client does. This stub answers
``initialize``, ``tools/list`` and ``tools/call`` (echo) with no heavy imports, after sleeping
``argv[1]`` seconds — a server whose start-up is waiting, the case parallel start exists for.
"""

import json
import sys
import time


def main() -> None:
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            continue
        if method == "initialize":
            result = {
                "protocolVersion": message["params"].get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "stub", "version": "1"},
            }
        elif method == "tools/list":
            result = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            text = "ECHOING: " + str(message["params"].get("arguments", {}).get("message", ""))
            result = {"content": [{"type": "text", "text": text}]}
        else:
            result = {}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
