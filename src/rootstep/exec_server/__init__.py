"""``rootstep exec-server``: an executor speaking the exec-server protocol over stdio or websocket.

The handlers are thin: processes, files, HTTP and discovery are the host primitives also used
by ``LocalEnvironment``; this package adds the connection state machine and the wire.
"""
