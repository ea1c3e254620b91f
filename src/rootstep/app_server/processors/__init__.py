"""Request processors: one module per family of methods, each with ``register(table, services)``.

The composition root (:mod:`rootstep.app_server.wiring`) lists them and passes the services in.
"""
