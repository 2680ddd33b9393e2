"""Dependency direction: pages -> workbench_ui -> workbench, never back (STYLE.md)."""

from __future__ import annotations

import ast
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
        "heavy = [m for m in ('shap', 'streamlit', 'reportlab', 'pyhanko', 'onnxruntime', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
