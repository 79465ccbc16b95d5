"""The package's layers: imports go one way, through each subpackage's public face, with no cycle.

Layers, bottom to top (a module may import its own layer and those below it):

======  ===================  =======================================================
rank    layer                question it answers
======  ===================  =======================================================
0       ``paths``, ``results``  where is everything; how are figures stored
1       ``stats``            is this number computed right? (knows nothing of the study)
2       ``paper``            what did the paper print; does a figure match it?
3       ``cohort``           is this file acceptable; what is derived from it; the generator
4       ``study``            which analysis gives which figure (numbers, never display strings)
5       ``pages``            how is it shown
6       ``build``            how does it become a book
7       ``cli``, ``__main__``  the command line
======  ===================  =======================================================

``paper`` sits below ``cohort`` because the synthetic generator is calibrated to the paper's
figures; the paper layer itself reads only its own files.

Every import is read, including those inside functions (an import hidden in a function body is
still a dependency). A module outside a subpackage reaches into it only through its face
(``from analysis.stats import CoxModel``, never ``analysis.stats.cox``); chapters likewise.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "analysis"
RANK = {"paths": 0, "results": 0, "stats": 1, "paper": 2, "cohort": 3, "study": 4, "pages": 5,
        "build": 6, "cli": 7, "__main__": 7}
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(tree: ast.AST, name: str, is_package: bool, known=None) -> list[tuple[str, int]]:
    """Every ``analysis`` module an AST imports, with its line (relative imports resolved).

    ``from X import y`` counts as an import of ``X.y`` when that is a module, else of ``X``.
    """
    known = package_modules() if known is None else known
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.split(".")[0] == "analysis"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "analysis":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in known else target, node.lineno))
    return list(dict.fromkeys(found))


def face_sources(known) -> dict[str, dict[str, str]]:
    """For each face (``__init__``), the module each exported name is imported from."""
    sources = {}
    for module, path in known.items():
        if path.name != "__init__.py":
            continue
        names = {}
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analysis"):
                for alias in node.names:
                    names[alias.asname or alias.name] = node.module
        sources[module] = names
    return sources


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, list[tuple[str, int]]]:
    modules = package_modules()
    edges = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges[name] = imports_of(tree, name, path.name == "__init__.py", modules)
    return edges


def module_edges() -> dict[str, set[str]]:
    """Module -> the modules it really needs: an import of a face stands for the modules that
    define the imported names (the face itself only re-exports)."""
    modules = package_modules()
    faces = face_sources(modules)
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name in faces:
            continue
        needed = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target, _ in imports_of(ast.Module(body=[node], type_ignores=[]), name, False, modules):
                if target in faces and isinstance(node, ast.ImportFrom):
                    needed |= {faces[target].get(a.name, target) for a in node.names}
                else:
                    needed.add(target)
        edges[name] = {t for t in needed if t in modules and t not in faces and t != name}
    return edges


def test_every_module_has_a_layer():
    unknown = sorted({layer(m) for m in package_modules()} - set(RANK) - {"__init__"})
    assert not unknown, f"modules outside the declared layers: {unknown}"


def test_imports_go_down_the_layers():
    upward = []
    for module, targets in graph().items():
        if module == "analysis":
            continue
        for target, line in targets:
            if target == "analysis" or layer(target) not in RANK:
                continue
            if RANK[layer(target)] > RANK[layer(module)]:
                upward.append(f"{module}:{line} imports {target}")
    assert not upward, "imports that climb a layer:\n" + "\n".join(upward)


def test_other_layers_are_reached_through_their_faces():
    behind = []
    for module, targets in graph().items():
        for target, line in targets:
            if target == "analysis" or layer(target) == layer(module) or layer(target) in {"paths", "results"}:
                continue
            if target != f"analysis.{layer(target)}":
                behind.append(f"{module}:{line} imports {target}")
    assert not behind, "imports past another layer's face (import from analysis.<layer>):\n" + "\n".join(behind)


def test_no_import_cycle():
    real = module_edges()
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(real.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(real):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_each_subpackage_has_a_public_face():
    for sub in sorted(n for n in RANK if (PACKAGE / n).is_dir()):
        init = PACKAGE / sub / "__init__.py"
        tree = ast.parse(init.read_text())
        names = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)]
        assert names, f"analysis/{sub}/__init__.py declares no __all__"
        assert ast.get_docstring(tree), f"analysis/{sub}/__init__.py has no docstring saying what the layer is for"


def test_faces_export_what_they_name():
    import importlib

    for sub in sorted(n for n in RANK if (PACKAGE / n).is_dir()):
        face = importlib.import_module(f"analysis.{sub}")
        missing = [name for name in face.__all__ if not hasattr(face, name)]
        assert not missing, f"analysis.{sub}.__all__ names what it does not define: {missing}"


CHAPTER_IMPORT = re.compile(r"^\s*(?:from\s+(analysis[\w.]*)\s+import|import\s+(analysis[\w.]*))", re.M)


def test_chapters_import_only_from_faces():
    faces = {"analysis"} | {f"analysis.{n}" for n in RANK if (PACKAGE / n).is_dir()}
    behind = []
    for chapter in sorted((ROOT / "book").rglob("*.md")):
        for match in CHAPTER_IMPORT.finditer(chapter.read_text()):
            target = match.group(1) or match.group(2)
            if target not in faces:
                behind.append(f"{chapter.relative_to(ROOT)} imports {target}")
    assert not behind, "chapters that import past a face:\n" + "\n".join(behind)


def test_no_module_is_too_long():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in package_modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines (split them by job):\n" + "\n".join(long)


@pytest.mark.parametrize(
    "source, module, expected",
    [
        ("from analysis.stats import CoxModel", "analysis.study.x", ["analysis.stats"]),
        ("from . import cox", "analysis.stats.x", ["analysis.stats.cox"]),
        ("from .cox import CoxModel", "analysis.stats.x", ["analysis.stats.cox"]),
        ("from ..paper import judge", "analysis.study.x", ["analysis.paper.judge"]),
        ("from ..paper import TOLERANCES", "analysis.study.x", ["analysis.paper"]),
        ("def f():\n    from analysis.pages.plots import km_plot", "analysis.study.x", ["analysis.pages.plots"]),
        ("from analysis import stats", "analysis.cli", ["analysis.stats"]),
        ("import numpy", "analysis.stats.x", []),
    ],
)
def test_the_reader_sees_every_import(source, module, expected):
    known = {"analysis.stats": None, "analysis.stats.cox": None, "analysis.paper.judge": None,
             "analysis.pages.plots": None}
    assert [t for t, _ in imports_of(ast.parse(source), module, False, known)] == expected
