"""The package layers hold: no module imports a package above its own (README "Layers").

Every ``import`` in ``src/rootstep`` counts, at module level or inside a function, except
imports under ``if TYPE_CHECKING:`` (annotations only: nothing runs upward). The order, lowest
first, is :data:`LAYERS`; packages on one line may not import each other either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rootstep

SRC = Path(rootstep.__file__).resolve().parent

# Lowest first. Top-level modules are named without ".py".
LAYERS: list[tuple[str, ...]] = [
    ("__init__", "file_uri", "bounded_read", "socket_addr", "preload"),
    ("host",),
    ("jsonrpc",),
    ("protocol",),
    ("config",),
    ("auth",),
    ("tools",),
    ("sandbox",),
    ("environments",),
    ("exec_server",),
    ("plugins",),
    ("mcp",),
    ("agent_tools",),
    ("extensions",),
    ("model",),
    ("core",),
    ("app_server",),
    ("demo",),
    ("cli",),
    ("__main__",),
]
RANK = {name: index for index, names in enumerate(LAYERS) for name in names}


def _unit(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0].removesuffix(".py")


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def _imported_units(tree: ast.AST, skip: set[int], module: str) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                names = [".".join(base + ([node.module] if node.module else []))]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "rootstep" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def upward_imports() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        unit = _unit(path)
        module = ".".join(("rootstep",) + path.relative_to(SRC).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        for line, target in _imported_units(tree, skip, module):
            if target == unit:
                continue
            if target not in RANK or unit not in RANK:
                found.append(f"{path.relative_to(SRC)}:{line}: {unit} → {target} (a package missing from LAYERS)")
            elif RANK[target] >= RANK[unit]:
                found.append(f"{path.relative_to(SRC)}:{line}: {unit} imports {target}")
    return found


def test_no_import_runs_upward() -> None:
    found = upward_imports()
    assert not found, "imports against the layer order:\n" + "\n".join(found)


def test_every_package_has_a_layer() -> None:
    units = {_unit(p) for p in SRC.rglob("*.py")}
    assert units <= set(RANK), sorted(units - set(RANK))
