"""``--ws-auth``: who may open a websocket to the exec-server (codex 0.169's flags and answers).

Anyone who reaches an exec-server's port runs commands as its user, so a listener that is not
on a loopback address needs authentication (rootstep refuses to start one without it, which
codex 0.169 does for its app-server only). Two modes, as in codex:

* ``capability-token``: the client sends ``Authorization: Bearer <token>``; the server knows
  the token from ``--ws-token-file`` (trimmed) or only its SHA-256 from ``--ws-token-sha256``,
  and compares digests in constant time;
* ``signed-bearer-token``: the bearer is an HS256 JWT signed with the shared secret of
  ``--ws-shared-secret-file`` (at least 32 bytes), with ``exp`` (and optional ``nbf``,
  ``--ws-issuer``, ``--ws-audience``) checked within ``--ws-max-clock-skew-seconds`` (30).

A refused upgrade is ``401`` with codex's text (``missing websocket bearer token``, ``invalid
websocket bearer token``, ...). ``/readyz`` needs no token. The settings are parsed once at start
(:func:`policy_from_args`, whose errors are codex's messages); :func:`authorize` is pure.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["capability-token", "signed-bearer-token"]
MODES: tuple[Mode, ...] = ("capability-token", "signed-bearer-token")
DEFAULT_MAX_CLOCK_SKEW_SECONDS = 30
MIN_SIGNED_BEARER_SECRET_BYTES = 32
MAX_SECRET_FILE_BYTES = 64 * 1024
INVALID_AUTHORIZATION_HEADER = "invalid authorization header"


class WsAuthError(ValueError):
    """The ``--ws-*`` flags do not make a usable policy (the message is codex's)."""


@dataclass(frozen=True)
class WsAuthPolicy:
    """No mode: every upgrade is accepted (loopback listeners only)."""

    mode: Mode | None = None
    token_sha256: bytes = b""
    shared_secret: bytes = b""
    issuer: str | None = None
    audience: str | None = None
    max_clock_skew_seconds: int = DEFAULT_MAX_CLOCK_SKEW_SECONDS

    def __repr__(self) -> str:  # never print a secret, even in a traceback
        return f"WsAuthPolicy(mode={self.mode!r})"


def _absolute(flag: str, path: str) -> str:
    if not path:
        raise WsAuthError(f"{flag} must be an absolute path")
    return os.path.abspath(path)


def _digest_arg(flag: str, value: str) -> bytes:
    text = value.strip()
    if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise WsAuthError(f"{flag} must be a 64-character hex SHA-256 digest")
    return bytes.fromhex(text)


def read_secret(path: str) -> str:
    """The trimmed content of a secret file (a regular file, at most 64 KiB)."""
    from rootstep.bounded_read import FileTooLarge, NotARegularFile, read_regular_text

    try:
        text = read_regular_text(path, MAX_SECRET_FILE_BYTES)
    except (NotARegularFile, FileTooLarge, UnicodeDecodeError) as exc:
        raise WsAuthError(f"failed to read websocket auth secret {path}: {exc}") from None
    except OSError as exc:
        raise WsAuthError(
            f"failed to read websocket auth secret {path}: {exc.strerror} (os error {exc.errno})"
        ) from None
    text = text.strip()
    if not text:
        raise WsAuthError(f"websocket auth secret {path} must not be empty")
    return text


def _normalize(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def policy_from_args(
    ws_auth: str | None,
    *,
    ws_token_file: str | None = None,
    ws_token_sha256: str | None = None,
    ws_shared_secret_file: str | None = None,
    ws_issuer: str | None = None,
    ws_audience: str | None = None,
    ws_max_clock_skew_seconds: int | None = None,
) -> WsAuthPolicy:
    """The policy the flags describe (reads the secret files). Raises :class:`WsAuthError`."""
    jwt_flags = (ws_shared_secret_file, ws_issuer, ws_audience, ws_max_clock_skew_seconds)
    token_flags = (ws_token_file, ws_token_sha256)
    if ws_auth is None:
        if any(flag is not None for flag in (*token_flags, *jwt_flags)):
            raise WsAuthError(
                "websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`"
            )
        return WsAuthPolicy()
    if ws_auth == "capability-token":
        if any(flag is not None for flag in jwt_flags):
            raise WsAuthError(
                "`--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` "
                "require `--ws-auth signed-bearer-token`"
            )
        if ws_token_file is not None and ws_token_sha256 is not None:
            raise WsAuthError("`--ws-token-file` and `--ws-token-sha256` are mutually exclusive")
        if ws_token_file is not None:
            token = read_secret(_absolute("--ws-token-file", ws_token_file))
            return WsAuthPolicy(mode="capability-token", token_sha256=hashlib.sha256(token.encode()).digest())
        if ws_token_sha256 is not None:
            return WsAuthPolicy(mode="capability-token", token_sha256=_digest_arg("--ws-token-sha256", ws_token_sha256))
        raise WsAuthError(
            "`--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set"
        )
    if ws_auth == "signed-bearer-token":
        if any(flag is not None for flag in token_flags):
            raise WsAuthError(
                "`--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, "
                "not `signed-bearer-token`"
            )
        if ws_shared_secret_file is None:
            raise WsAuthError("`--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set")
        path = _absolute("--ws-shared-secret-file", ws_shared_secret_file)
        secret = read_secret(path).encode()
        if len(secret) < MIN_SIGNED_BEARER_SECRET_BYTES:
            raise WsAuthError(
                f"signed websocket bearer secret {path} must be at least {MIN_SIGNED_BEARER_SECRET_BYTES} bytes"
            )
        skew = DEFAULT_MAX_CLOCK_SKEW_SECONDS if ws_max_clock_skew_seconds is None else ws_max_clock_skew_seconds
        return WsAuthPolicy(mode="signed-bearer-token", shared_secret=secret, issuer=_normalize(ws_issuer),
                            audience=_normalize(ws_audience), max_clock_skew_seconds=skew)
    raise WsAuthError(f"invalid value '{ws_auth}' for '--ws-auth <MODE>'")


def _bearer(header: str | None) -> tuple[str | None, str | None]:
    """(token, None) or (None, why it is refused)."""
    if header is None:
        return None, "missing websocket bearer token"
    scheme, sep, token = header.partition(" ")
    token = token.strip()
    if not sep or scheme.lower() != "bearer" or not token:
        return None, INVALID_AUTHORIZATION_HEADER
    return token, None


def _jwt_refusal(policy: WsAuthPolicy, token: str, now: float) -> str | None:
    import jwt

    try:
        claims: Any = jwt.decode(
            token, policy.shared_secret, algorithms=["HS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_aud": False, "verify_iss": False},
        )
    except jwt.PyJWTError:
        return "invalid websocket jwt"
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not _integer(exp) or (nbf is not None and not _integer(nbf)):
        return "invalid websocket jwt"
    skew = policy.max_clock_skew_seconds
    if now > exp + skew:
        return "expired websocket jwt"
    if nbf is not None and now < nbf - skew:
        return "websocket jwt is not valid yet"
    if policy.issuer is not None and claims.get("iss") != policy.issuer:
        return "websocket jwt issuer mismatch"
    if policy.audience is not None:
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if policy.audience not in audiences:
            return "websocket jwt audience mismatch"
    return None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def authorize(policy: WsAuthPolicy, authorization: str | None, *, now: float | None = None) -> str | None:
    """None when the upgrade may proceed, else the ``401`` text (codex's)."""
    if policy.mode is None:
        return None
    token, refusal = _bearer(authorization)
    if token is None:
        return refusal
    if policy.mode == "capability-token":
        if hmac.compare_digest(hashlib.sha256(token.encode()).digest(), policy.token_sha256):
            return None
        return "invalid websocket bearer token"
    return _jwt_refusal(policy, token, time.time() if now is None else now)
