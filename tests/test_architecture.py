"""Dependency direction: pages -> workbench_ui -> workbench, never back (STYLE.md)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_domain_never_imports_the_ui() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & {"streamlit", "workbench_ui", "pages", "app"})
        for p in (ROOT / "workbench").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_ui_helpers_never_import_pages() -> None:
    ui = ROOT / "workbench_ui"
    offenders = [str(p) for p in ui.rglob("*.py") if _imports(p) & {"pages", "app"}] if ui.exists() else []
    assert offenders == []


def test_import_workbench_is_light() -> None:
    # Heavy libraries load lazily: importing the package and the CLI must not pull them in.
    code = (
        "import sys, workbench, workbench.cli; "
        "heavy = [m for m in ('shap', 'streamlit', 'weasyprint', 'pyhanko', 'onnxruntime', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- one face per package (issue 16) ------------------------------------------------------

PACKAGE_ROOT = ROOT / "workbench"
ROOT_MODULE_LIMIT = 12


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """Modules a file imports at run time (``if TYPE_CHECKING:`` blocks excluded), as dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree)
                   if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                   for n in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [f"{node.module}.{a.name}" for a in node.names
                       if (PACKAGE_ROOT.parent / f"{node.module}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
                       or (PACKAGE_ROOT.parent / f"{node.module}.{a.name}".replace(".", "/")).is_dir()]
            found.update(modules or [node.module])
    return {m for m in found if m == "workbench" or m.startswith("workbench.")}


def _package_of(module: str) -> str:
    """``workbench.store._audit`` -> ``store``; a root module is its own package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _sources() -> list[Path]:
    return [*PACKAGE_ROOT.rglob("*.py"), *(ROOT / "workbench_ui").rglob("*.py"), *(ROOT / "pages").rglob("*.py"),
            ROOT / "app.py"]


def test_no_module_imports_another_packages_private_module() -> None:
    offenders = []
    for path in _sources():
        own = _package_of(_module_name(path)) if path.is_relative_to(PACKAGE_ROOT) else None
        for module in _runtime_imports(path):
            private = any(part.startswith("_") and part != "__init__" for part in module.split(".")[2:])
            if private and _package_of(module) != own:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == [], "import through the package's face (its __init__):\n" + "\n".join(sorted(offenders))


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        here = _package_of(_module_name(path))
        for module in _runtime_imports(path):
            there = _package_of(module)
            if there != here and (PACKAGE_ROOT / there).is_dir() and (PACKAGE_ROOT / here).is_dir():
                graph.setdefault(here, set()).add(there)
    cycles = [f"{a} <-> {b}" for a in graph for b in graph[a] if a < b and a in graph.get(b, set())]
    assert cycles == [] and _cycle(graph) is None, (cycles, _cycle(graph))


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_between_modules() -> None:
    # A package's face imports its modules; the modules never import the face back (they import
    # each other directly), so no late import is needed to break a cycle.
    modules = {_module_name(p): p for p in PACKAGE_ROOT.rglob("*.py")}
    graph = {name: {m for m in _runtime_imports(path) if m in modules and m != name} for name, path in modules.items()}
    assert _cycle(graph) is None


def test_root_holds_a_handful_of_shared_modules_and_every_package_has_a_face() -> None:
    root_modules = sorted(p.name for p in PACKAGE_ROOT.glob("*.py"))
    assert len(root_modules) <= ROOT_MODULE_LIMIT, root_modules
    assert [p.name for p in PACKAGE_ROOT.glob("_*.py") if p.name != "__init__.py"] == []
    for package in (p for p in PACKAGE_ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        face = importlib.import_module(f"workbench.{package.name}")
        assert isinstance(getattr(face, "__all__", None), list), f"workbench.{package.name} has no __all__"
        missing = [n for n in face.__all__ if not hasattr(face, n)]
        assert missing == [], f"workbench.{package.name}.__all__ names what it does not define: {missing}"
