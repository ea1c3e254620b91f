"""``.app.json`` — connector declarations of a plugin (spec §4.4).

Only the connector ids matter to the runtime: they attribute the hosted apps server's connector
tools to the plugin while its root is ready. Ids are not validated (a blank id is kept, as in the
reference); declaration order is preserved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class AppConfigError(ValueError):
    """The document is not JSON or does not have the ``{"apps": {name: {"id": ...}}}`` shape."""


@dataclass(frozen=True)
class AppDeclaration:
    name: str
    connector_id: str
    category: str | None = None


def parse_plugin_app_config(contents: str | bytes) -> list[AppDeclaration]:
    """Parse ``.app.json`` text. Raises :class:`AppConfigError`."""
    try:
        document: Any = json.loads(contents)
    except (ValueError, UnicodeDecodeError) as err:
        raise AppConfigError(str(err)) from err
    if not isinstance(document, dict):
        raise AppConfigError("expected a JSON object")
    apps = document.get("apps", {})
    if apps is None:
        apps = {}
    if not isinstance(apps, dict):
        raise AppConfigError("invalid type for `apps`: expected an object")
    declarations: list[AppDeclaration] = []
    for name, app in apps.items():
        if not isinstance(app, dict):
            raise AppConfigError(f"invalid type for app `{name}`: expected an object")
        connector_id = app.get("id")
        if not isinstance(connector_id, str):
            raise AppConfigError(f"app `{name}` is missing a string `id`")
        category = app.get("category")
        if category is not None and not isinstance(category, str):
            raise AppConfigError(f"invalid type for app `{name}` category: expected a string")
        cleaned = category.strip() if category else None
        declarations.append(AppDeclaration(name, connector_id, cleaned or None))
    return declarations
