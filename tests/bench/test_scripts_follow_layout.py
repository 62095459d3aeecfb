"""The benchmark scripts are not imported by the suite, so a module that moves (the rooms
of issue 10 moved crypto, cache, queue and seeding) breaks them silently. This test reads
every script under bench/ and fails on an import of a project module that no longer
exists, or on a `ROOT / "a" / "b.py"` path that names a missing file."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("zhoukou_grid", "customers", "visits", "loadforecast")
CODE_IN_STRING = re.compile(r"from ([\w.]+) import ([\w, ]+)")
SCRIPTS = sorted(p for p in (ROOT / "bench").iterdir() if p.is_file() and not p.name.startswith("."))


def project_imports(tree: ast.AST) -> set[str]:
    """Dotted names a script imports from the project, whether at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PROJECT_PACKAGES:
                names.add(node.module)
                for alias in node.names:
                    names.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] in PROJECT_PACKAGES)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # Code handed to a child (`manage.py shell -c "from x import y; ..."`).
            for module, imported in CODE_IN_STRING.findall(node.value):
                if module.split(".")[0] in PROJECT_PACKAGES:
                    names.add(module)
                    names.update(f"{module}.{n.strip()}" for n in imported.split(",") if n.strip())
    return names


def root_paths(tree: ast.AST) -> set[tuple[str, ...]]:
    """The string parts of every `ROOT / "x" / "y"` expression ending in a file name."""
    found: set[tuple[str, ...]] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.BinOp) or not isinstance(node.op, ast.Div):
            continue
        parts: list[str] = []
        cursor = node
        while isinstance(cursor, ast.BinOp) and isinstance(cursor.op, ast.Div):
            if not (isinstance(cursor.right, ast.Constant) and isinstance(cursor.right.value, str)):
                break
            parts.insert(0, cursor.right.value)
            cursor = cursor.left
        else:
            if isinstance(cursor, ast.Name) and cursor.id == "ROOT" and parts and parts[-1].endswith(".py"):
                found.add(tuple(parts))
    return found


def resolves(dotted: str) -> bool:
    """A module, or a name inside a module (`from pkg.mod import func`)."""
    try:
        if importlib.util.find_spec(dotted) is not None:
            return True
    except ModuleNotFoundError:
        pass
    module, _, attr = dotted.rpartition(".")
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return False
    if spec is None or spec.origin is None:
        return False
    source = Path(spec.origin).read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == attr:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in node.targets):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == attr:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == attr for a in node.names):
            return True
    return False


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_imports_and_paths_exist(script):
    tree = ast.parse(script.read_text(encoding="utf-8"))
    missing = sorted(name for name in project_imports(tree) if not resolves(name))
    assert not missing, f"{script.name} imports what no longer exists: {missing}"
    for parts in root_paths(tree):
        assert ROOT.joinpath(*parts).is_file(), f"{script.name} names a missing file: {'/'.join(parts)}"


def test_the_checks_fire_on_a_stale_script():
    stale = ast.parse(
        "from zhoukou_grid import seeding_gone\n"
        "def f():\n    from zhoukou_grid.core import no_such_module\n"
        "p = ROOT / 'zhoukou_grid' / 'crypto.py'\n"
        "code = 'import datetime as dt; from loadforecast.tasks import enqueue_run; enqueue_run()'\n"
    )
    names = project_imports(stale)
    assert {"zhoukou_grid.seeding_gone", "zhoukou_grid.core.no_such_module", "loadforecast.tasks.enqueue_run"} <= names
    assert not resolves("zhoukou_grid.seeding_gone")
    assert not resolves("zhoukou_grid.core.no_such_module")
    assert resolves("zhoukou_grid.core.crypto")
    assert resolves("loadforecast.services.projection_enqueue")
    assert not resolves("loadforecast.tasks.enqueue_run")
    assert root_paths(stale) == {("zhoukou_grid", "crypto.py")}
    assert not ROOT.joinpath("zhoukou_grid", "crypto.py").exists()
