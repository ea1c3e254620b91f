"""The agent's own tools: engines the thread's tool router plugs in.

Each module is one tool or concept, with pure decisions and IO at the edges:
``apply_patch`` (parse, plan, apply through an ``Environment``'s filesystem; the fileChange
items), ``turn_diff`` (the turn's aggregated ``git diff``), ``plan`` (``update_plan``),
``user_input`` (``request_user_input``), ``view_image``, ``goals`` (the goal tools and the store
``thread/goal/*`` shares) and ``model_family`` (which tools each model is offered). Shapes and
texts the model or the client sees are those of codex 0.169; the tool definitions it sends are
kept verbatim as data files in ``data/``.
"""
