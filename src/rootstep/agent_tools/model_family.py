"""Which of the agent's tools a model is offered, as 0.169 decides it.

0.169 reads per-model metadata from a bundled catalog (12 slugs: ``gpt-6*``, ``gpt-5.6-*``,
``gpt-daybreak-*``, ``gpt-5.5``, ``codex-auto-review``; the behaviour fields are kept in
``data/model_catalog_0169.json``); any other slug (``gpt-5.1-codex``, ``gpt-5.1``,
``gpt-5.1-codex-mini``, ``mock-model``…) gets fallback metadata (and a ``warning``
notification "Model metadata for `<slug>` not found…"). What the probes showed:

* **apply_patch** is offered only to catalog models (``apply_patch_tool_type = freeform``: a
  custom tool with a lark grammar); there is no function-tool variant in 0.169. Fallback models
  get no apply_patch tool: their base instructions tell them to run ``apply_patch`` through the
  shell, which :mod:`.apply_patch.shell` recognises.
* **exec_command / write_stdin** for every model (the unified-exec feature is on by default);
  the catalog's ``shell_type = shell_command`` only keeps ``shell_command`` dispatchable.
* **update_plan** for every model only with ``[tools.update_plan] enabled = true`` (off by
  default). **request_user_input**, the goal tools (**get_goal**, **create_goal**,
  **update_goal**) and **web_search** (``{"type":"web_search","external_web_access":false}``)
  for every model; **view_image** whenever the turn has an environment.
* Catalog models with ``tool_mode = code_mode_only`` (all but ``gpt-5.5``) do not get these as
  top-level tools: the request has no ``tools``; an ``additional_tools`` input item carries
  namespaces (``functions`` with a code-mode ``exec`` custom tool, ``wait``,
  ``request_user_input``…). rootstep does not implement code mode (:attr:`ModelFamily.code_mode`).
* Base instructions: fallback models get 0.169's generic Codex CLI prompt as the first
  developer message; catalog models get their own (``You are Codex, …``). Neither is copied here.

Order of the tools in a request (the ones these engines provide): exec_command, write_stdin,
update_plan, request_user_input, apply_patch, view_image, get_goal, create_goal, update_goal,
web_search (0.169 also puts ``multi_agent_v1`` before the goal tools for fallback models and
``tool_search`` before ``web_search`` for ``gpt-5.5``; those are not built here).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast


@functools.cache
def catalog() -> dict[str, dict[str, Any]]:
    data = resources.files("rootstep.agent_tools").joinpath("data/model_catalog_0169.json")
    return cast(dict[str, dict[str, Any]], json.loads(data.read_text("utf-8")))


@dataclass(frozen=True)
class ModelFamily:
    slug: str
    known: bool  # in 0.169's catalog (else fallback metadata)
    apply_patch: str | None  # "freeform" or None
    code_mode: bool  # tools go in an ``additional_tools`` item (not supported by these engines)
    supports_parallel_tool_calls: bool
    input_modalities: tuple[str, ...]
    supports_image_detail_original: bool
    supports_search_tool: bool

    @property
    def base_instructions(self) -> str:
        """Which base instructions 0.169 sends: ``"catalog"`` (per model) or ``"fallback"``."""
        return "catalog" if self.known else "fallback"


def model_family(slug: str) -> ModelFamily:
    entry = catalog().get(slug)
    if entry is None:
        return ModelFamily(slug, False, None, False, True, ("text", "image"), False, False)
    return ModelFamily(
        slug=slug,
        known=True,
        apply_patch=entry.get("apply_patch_tool_type"),
        code_mode=entry.get("tool_mode") == "code_mode_only",
        supports_parallel_tool_calls=bool(entry.get("supports_parallel_tool_calls")),
        input_modalities=tuple(entry.get("input_modalities") or ("text", "image")),
        supports_image_detail_original=bool(entry.get("supports_image_detail_original")),
        supports_search_tool=bool(entry.get("supports_search_tool")),
    )


def fallback_warning(slug: str) -> str | None:
    """The ``warning`` notification text 0.169 sends on each turn of an unknown model."""
    if slug in catalog():
        return None
    return (
        f"Model metadata for `{slug}` not found. "
        "Defaulting to fallback metadata; this can degrade performance and cause issues."
    )


def agent_tool_names(slug: str, *, update_plan_enabled: bool = False, has_environment: bool = True) -> list[str]:
    """The agent tools (of those these engines and the exec engine provide) the model is
    offered directly, in request order; empty for code-mode models."""
    family = model_family(slug)
    if family.code_mode:
        return []
    names = []
    if has_environment:
        names += ["exec_command", "write_stdin"]
    if update_plan_enabled:
        names.append("update_plan")
    names.append("request_user_input")
    if has_environment and family.apply_patch == "freeform":
        names.append("apply_patch")
    if has_environment:
        names.append("view_image")
    names += ["get_goal", "create_goal", "update_goal", "web_search"]
    return names


WEB_SEARCH_TOOL = {"type": "web_search", "external_web_access": False}
