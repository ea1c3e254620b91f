"""The name a server's OAuth credentials are stored under (codex 0.169, spec §7.3, §12.1).

A server hosted in an executor environment (a selected root's plugin server, or any server
whose ``environment_id`` is not ``local``) is namespaced by its environment, so two executors'
servers of the same name and URL never share tokens:
``executor:<base64url-nopad(environment id)>:<base64url-nopad(server name)>``, and the entry
carries ``"executor_owned": true``. The store key is then computed from that name as for any
other (``<name>|<16 hex>``). Local servers keep their plain name. Verified against a
``.credentials.json`` written by the 0.169 app-server (``test_oauth_executor_keys.py``), so the
file and keyring entries move between rootstep and Codex both ways.
"""

from __future__ import annotations

import base64
import binascii

LOCAL_ENVIRONMENT = "local"
EXECUTOR_PREFIX = "executor:"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def credential_name(server_name: str, environment_id: str = LOCAL_ENVIRONMENT) -> str:
    """The ``server_name`` of the stored entry for this server in this environment."""
    if environment_id == LOCAL_ENVIRONMENT:
        return server_name
    return f"{EXECUTOR_PREFIX}{_b64(environment_id)}:{_b64(server_name)}"


def is_executor_owned(credential: str) -> bool:
    """True for a name :func:`credential_name` namespaced by an executor environment."""
    return split_credential_name(credential)[1] != LOCAL_ENVIRONMENT


def split_credential_name(credential: str) -> tuple[str, str]:
    """``(server name, environment id)`` of a credential name; a plain name is local.

    A name that merely starts with ``executor:`` but does not decode is a plain local name.
    """
    if credential.startswith(EXECUTOR_PREFIX):
        parts = credential[len(EXECUTOR_PREFIX):].split(":")
        if len(parts) == 2 and all(parts):
            try:
                env, name = _unb64(parts[0]), _unb64(parts[1])
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return credential, LOCAL_ENVIRONMENT
            if env != LOCAL_ENVIRONMENT:
                return name, env
    return credential, LOCAL_ENVIRONMENT


def display_name(credential: str) -> str:
    """The server name a user knows, for messages about a credential name."""
    return split_credential_name(credential)[0]
