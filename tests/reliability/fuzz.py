"""Hypothesis strategies for hostile JSON-RPC lines, and the oracle that says what each line
deserves as an answer.

A *batch* is a list of lines (bytes without ``\\n``) sent in one go. Requests carry ids from a
shared counter (integers, or strings with arbitrary text after a unique prefix), so every answer
can be matched to exactly one request. The oracle (:func:`classify`) follows JSON-RPC and the
Codex dialect, independently of the server's code:

* ``request``: a JSON object with an integer/string id and a string method → exactly one answer
  with that id;
* ``invalid``: not JSON, not an object, a bad id or method type → exactly one error with the
  server's "no id" marker (``null`` for the app-server, ``-1`` for the exec-server);
* ``notification`` / ``reply`` (a client response) / ``blank``: no answer.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

_ids = itertools.count(1_000_000)

# Field names that appear in the app-server's and exec-server's params, so that fuzzed params
# reach validation of real fields (wrong types) instead of being ignored as unknown keys.
APP_FIELDS = [
    "threadId", "turnId", "input", "model", "modelProvider", "cwd", "approvalPolicy", "sandbox",
    "sandboxPolicy", "config", "ephemeral", "cursor", "limit", "archived", "name", "server", "tool",
    "arguments", "_meta", "detail", "serverName", "includeTurns", "path", "baseInstructions",
    "developerInstructions", "selectedCapabilityRoots", "environments", "effort", "outputSchema",
    "clientUserMessageId", "expectedTurnId", "sortKey", "sortDirection", "searchTerm", "modelProviders",
    "excludeTurns", "clientInfo", "capabilities", "environmentId", "execServerUrl", "type", "text",
]
EXEC_FIELDS = [
    "clientName", "resumeSessionId", "path", "sandbox", "processId", "argv", "cwd", "env", "tty",
    "pipeStdin", "afterSeq", "maxBytes", "waitMs", "chunk", "writeId", "handleId", "offset", "roots",
    "id", "recursive", "force", "destinationPath", "dataBase64", "method", "url", "headers",
]


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        json_scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=10), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def deep(depth: int, kind: str) -> Any:
    """A value nested ``depth`` levels (lists or objects)."""
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


@st.composite
def nested_values(draw: st.DrawFn) -> Any:
    # json.dumps recurses too: build at most ~900 levels as values, deeper ones as raw text.
    return deep(draw(st.integers(min_value=50, max_value=900)), draw(st.sampled_from(["list", "dict"])))


def huge_strings() -> st.SearchStrategy[str]:
    return st.builds(lambda n, c: c * n, st.integers(min_value=10_000, max_value=400_000),
                     st.sampled_from(["x", "é", "\u2028", "\\", '"', "\x00", "😀"]))


@st.composite
def params_for(draw: st.DrawFn, fields: list[str], extra_values: list[Any]) -> Any:
    """Params: absent, any JSON, or an object of real field names with values of any type."""
    choice = draw(st.integers(min_value=0, max_value=9))
    if choice == 0:
        return _ABSENT
    if choice == 1:
        return draw(json_values())
    if choice == 2:
        return draw(nested_values())
    value = st.one_of(json_values(), st.sampled_from(extra_values) if extra_values else st.nothing())
    if choice == 3:
        value = st.one_of(value, huge_strings())
    return draw(st.dictionaries(st.sampled_from(fields), value, max_size=5))


_ABSENT = object()


@st.composite
def request_ids(draw: st.DrawFn) -> int | str:
    n = next(_ids)
    if draw(st.booleans()):
        return n
    return f"f{n}-" + draw(st.text(max_size=12))


@st.composite
def requests(draw: st.DrawFn, methods: list[str], fields: list[str], extra_values: list[Any]) -> dict[str, Any]:
    method = draw(st.one_of(
        st.sampled_from(methods),
        st.text(max_size=30),
        st.sampled_from(methods).map(lambda m: m.upper()),
        st.sampled_from(methods).map(lambda m: m + " "),
    ))
    message: dict[str, Any] = {"id": draw(request_ids()), "method": method}
    params = draw(params_for(fields, extra_values))
    if params is not _ABSENT:
        message["params"] = params
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        message["jsonrpc"] = draw(st.sampled_from(["2.0", "1.0", 2]))
    if draw(st.integers(min_value=0, max_value=7)) == 0:
        message["trace"] = draw(json_values())
    return message


@st.composite
def mutated_requests(draw: st.DrawFn, templates: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A valid request of a served method, then maybe one mutation: a value of the wrong type,
    a huge or deeply nested value, a dropped field, an unknown field, or wrong params."""
    method = draw(st.sampled_from(sorted(templates)))
    params = dict(draw(st.sampled_from(templates[method])))
    op = draw(st.integers(min_value=0, max_value=7))
    keys = sorted(params)
    if op in (1, 2, 3) and keys:
        key = draw(st.sampled_from(keys))
        params[key] = draw(json_values() if op == 1 else huge_strings() if op == 2 else nested_values())
    elif op == 4 and keys:
        del params[draw(st.sampled_from(keys))]
    elif op == 5:
        params[draw(st.text(max_size=12))] = draw(json_values())
    elif op == 6:
        return {"id": draw(request_ids()), "method": method, "params": draw(json_values())}
    return {"id": draw(request_ids()), "method": method, "params": params}


@st.composite
def odd_messages(draw: st.DrawFn, methods: list[str]) -> dict[str, Any]:
    """Objects with broken shapes: bad id/method types, notifications, client responses."""
    kind = draw(st.integers(min_value=0, max_value=5))
    if kind == 0:  # an id of the wrong type
        return {"id": draw(st.one_of(st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2),
                                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))),
                "method": draw(st.sampled_from(methods))}
    if kind == 1:  # a method of the wrong type
        return {"id": next(_ids), "method": draw(st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=3))))}
    if kind == 2:  # a notification (no answer)
        return {"method": draw(st.one_of(st.sampled_from(methods), st.text(max_size=20))),
                "params": draw(json_values())}
    if kind == 3:  # a response to a request the server never made
        return {"id": next(_ids), "result": draw(json_values())}
    if kind == 4:
        return {"id": next(_ids), "error": {"code": draw(st.integers()), "message": draw(st.text(max_size=20))}}
    return draw(st.dictionaries(st.text(max_size=8), json_values(), max_size=4))


def _to_line(message: Any) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


@st.composite
def raw_lines(draw: st.DrawFn) -> bytes:
    """Not JSON-RPC at all: random bytes (often not UTF-8), truncated JSON, deep brackets."""
    kind = draw(st.integers(min_value=0, max_value=5))
    if kind == 0:
        return draw(st.binary(min_size=1, max_size=300))
    if kind == 1:
        return draw(st.text(min_size=1, max_size=200)).encode("utf-8", "surrogatepass")
    if kind == 2:  # valid JSON cut short
        full = _to_line({"id": next(_ids), "method": "thread/list", "params": draw(json_values())})
        return full[: draw(st.integers(min_value=1, max_value=max(1, len(full) - 1)))]
    if kind == 3:  # nesting far past any parser's recursion limit
        n = draw(st.integers(min_value=1_000, max_value=200_000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return opener * n + b"1" + closer * n
    if kind == 4:  # a valid request with invalid UTF-8 spliced into a string
        line = _to_line({"id": next(_ids), "method": "thread/list", "params": {"cursor": "@@"}})
        return line.replace(b"@@", draw(st.binary(min_size=1, max_size=8)).replace(b'"', b"'"))
    return _to_line(draw(json_values()))  # JSON that is not an object (or an object of junk)


@st.composite
def batches(draw: st.DrawFn, methods: list[str], fields: list[str], extra_values: list[Any] | None = None,
            *, templates: dict[str, list[dict[str, Any]]] | None = None, allow_fatal: bool = True) -> list[bytes]:
    """1–6 lines mixing (mutated) valid requests, random requests, broken shapes and raw junk."""
    extra = extra_values or []
    kinds = [requests(methods, fields, extra).map(_to_line), odd_messages(methods).map(_to_line), raw_lines()]
    if templates:
        kinds = [mutated_requests(templates).map(_to_line)] * 3 + kinds
    line = st.one_of(*kinds)
    lines = [_sanitize(x) for x in draw(st.lists(line, min_size=1, max_size=6))]
    if not allow_fatal:
        lines = [x for x in lines if classify(x).kind not in ("notification", "reply", "ambiguous")]
    return [x for x in lines if classify(x).kind != "blank"]


def _sanitize(line: bytes) -> bytes:
    """One line on the wire: no newline inside, no trailing CR (readers strip it)."""
    return line.replace(b"\n", b" ").rstrip(b"\r")


@dataclass(frozen=True)
class Verdict:
    kind: str  # request | invalid | notification | reply | ambiguous | blank
    id: Any = None
    method: str | None = None


def classify(line: bytes) -> Verdict:
    if not line.strip():
        return Verdict("blank")
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return Verdict("invalid")
    if not isinstance(obj, dict):
        return Verdict("invalid")
    has_id = "id" in obj and obj["id"] is not None
    msg_id = obj.get("id")
    if has_id and (isinstance(msg_id, bool) or not isinstance(msg_id, (int, str))):
        return Verdict("invalid")
    method = obj.get("method")
    if "method" in obj and method is not None:
        if not isinstance(method, str):
            return Verdict("invalid")
        return Verdict("request", msg_id, method) if has_id else Verdict("notification")
    if "method" in obj:  # "method": null
        return Verdict("invalid")
    if has_id and "result" in obj:
        return Verdict("reply")
    if isinstance(obj.get("error"), dict):
        # A client error reply, or junk shaped like one: whether ``{"code": 1.0}`` counts as an
        # integer is the validator's call, so either answer (none, or one error) is accepted.
        return Verdict("ambiguous")
    return Verdict("invalid")


@dataclass
class FuzzStats:
    """What was sent, for the report (``-s`` prints it; junit gets it via record_property)."""

    lines: int = 0
    requests: int = 0
    invalid: int = 0
    silent: int = 0
    bytes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, line: bytes, verdict: Verdict) -> None:
        self.lines += 1
        self.bytes += len(line)
        self.kinds[verdict.kind] = self.kinds.get(verdict.kind, 0) + 1
        if verdict.kind == "request":
            self.requests += 1
        elif verdict.kind == "invalid":
            self.invalid += 1
        else:
            self.silent += 1

    def summary(self) -> str:
        return (f"{self.lines} lines ({self.bytes / 1e6:.1f} MB): {self.requests} requests, "
                f"{self.invalid} malformed, {self.silent} notifications/replies")
