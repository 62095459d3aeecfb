"""deploy/portal.env.example names every environment variable the portal reads.

The variables are found in the code, not in a list kept by hand: every module of the
project (tests and benchmarks excepted) is parsed, and every read of the environment
(`os.environ.get("X")`, `os.environ["X"]`, `os.getenv("X")`, `"X" in os.environ`, and the
settings helpers `env_bool("X")`, `env_list("X")`, any `env_*("X")`) counts. A setting added
later without a line in the template fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "portal.env.example"
SKIP_DIRS = {".venv", "tests", "bench", "node_modules", "staticfiles", "media", "migrations", ".git", ".run"}


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ`."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _first_string(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def environment_reads(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            reads = (
                (isinstance(func, ast.Attribute) and func.attr in {"get", "setdefault", "pop"} and _is_environ(func.value))
                or (isinstance(func, ast.Attribute) and func.attr == "getenv")
                or (isinstance(func, ast.Name) and (func.id == "getenv" or func.id.startswith("env_")))
            )
            if reads and (name := _first_string(node)):
                names.add(name)
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                names.add(node.slice.value)
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                names.add(node.left.value)
    return names


def project_modules() -> list[Path]:
    return [path for path in ROOT.rglob("*.py")
            if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts[:-1])]


def test_the_scanner_finds_every_way_of_reading_the_environment():
    source = '''
import os
from os import environ, getenv
a = os.environ.get("A_GET", "x")
b = os.environ["B_ITEM"]
c = os.getenv("C_GETENV")
d = env_bool("D_BOOL")
e = env_list("E_LIST", "x,y")
f = env_int("F_INT", 3)
g = "G_IN" in os.environ
os.environ.setdefault("H_DEFAULT", "v")
i = environ.get("I_BARE")
j = getenv("J_BARE")
k = {"K_NOT_ENV": 1}.get("K_NOT_ENV")
'''
    assert environment_reads(source) == {"A_GET", "B_ITEM", "C_GETENV", "D_BOOL", "E_LIST", "F_INT", "G_IN",
                                         "H_DEFAULT", "I_BARE", "J_BARE"}


def test_the_settings_and_the_gunicorn_config_are_scanned():
    modules = {path.relative_to(ROOT).as_posix() for path in project_modules()}
    assert {"zhoukou_grid/settings.py", "zhoukou_grid/celery.py", "deploy/gunicorn.conf.py"} <= modules
    found = environment_reads((ROOT / "zhoukou_grid" / "settings.py").read_text())
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "SECURE_COOKIES", "ALLOWED_HOSTS"} <= found


def test_every_environment_variable_read_by_the_portal_is_in_the_template():
    template = TEMPLATE.read_text(encoding="utf-8")
    missing = {}
    for path in project_modules():
        for name in environment_reads(path.read_text(encoding="utf-8")):
            if not re.search(rf"(?<![A-Z0-9_]){re.escape(name)}(?![A-Z0-9_])", template):
                missing.setdefault(name, path.relative_to(ROOT).as_posix())
    assert not missing, f"add these to deploy/portal.env.example (meaning and default): {missing}"


def test_the_template_sets_nothing_that_the_portal_does_not_read():
    read = set()
    for path in project_modules():
        read |= environment_reads(path.read_text(encoding="utf-8"))
    backup_script_vars = {"BACKUP_DIR", "BACKUP_KEEP"}  # read by deploy/backup.sh
    template = TEMPLATE.read_text(encoding="utf-8")
    assigned = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", template, flags=re.M))
    assert assigned - read - backup_script_vars == set()
    assert backup_script_vars <= set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "deploy" / "backup.sh").read_text()))


def test_the_template_reads_the_same_in_bash_as_in_systemd(tmp_path):
    """manage.sh and backup.sh source the file with bash; systemd reads NAME=value lines."""
    import subprocess

    result = subprocess.run(["bash", "-c", 'set -a; . "$0"; set +a; env -0', str(TEMPLATE)],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    from_bash = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    lines = re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", TEMPLATE.read_text(encoding="utf-8"), flags=re.M)
    assert lines, "the template sets nothing"
    for name, value in lines:
        assert from_bash[name] == value.strip("'")
