"""Extensions: contributors to a thread's MCP servers, skills and instructions."""
