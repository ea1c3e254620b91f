"""The model: one Responses API request (:mod:`.request`), the events a step yields
(:mod:`.events`) and the streaming client (:mod:`.client`, which loads httpx2 — imported where a
request is actually sent, not with the turn loop)."""
