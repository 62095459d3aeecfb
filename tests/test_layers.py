"""The rooms of the code and the directions their imports may take.

    zhoukou_grid/             wiring: settings, urls, celery, beat, home, navigation,
                              management commands; the only code that may import every app
    zhoukou_grid/core/        framework: scoping, audit, crypto, queue, importing, generic
                              views, API base, security
    zhoukou_grid/territory/   county → station → grid → village, transformers, LV lines,
                              roles: models, pages, API, filters, resources, demo
    customers/                households, returning residents, key customers, plans
    visits/, loadforecast/    field work; load projection and alerts

Allowed: an app imports the ground floor (core, territory) and the apps below it
(customers ← visits, loadforecast; visits and loadforecast never each other). The
ground floor imports no app, not even by a dotted string; core takes from territory only
its models (the tree it scopes by). Nothing but the wiring imports a wiring module.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APPS = ("customers", "visits", "loadforecast")
# Which app may import which other app.
APP_MAY_IMPORT = {"customers": set(), "visits": {"customers"}, "loadforecast": {"customers"}}
DOTTED_APP_STRING = re.compile(r"^(customers|visits|loadforecast)\.[A-Za-z_]")


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    target: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}: {self.rule}"


def room_of(module: str) -> str:
    """The room a dotted module name belongs to."""
    parts = module.split(".")
    if parts[0] in APPS:
        return parts[0]
    if parts[0] == "zhoukou_grid":
        if len(parts) > 1 and parts[1] in ("core", "territory"):
            return parts[1]
        return "wiring"
    return "outside"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str, bool]]:
    """(line, imported module, is a dotted string) of every import in a file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target, False))
            # `from zhoukou_grid import home` names a module too.
            found += [(node.lineno, f"{target}.{alias.name}", False) for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED_APP_STRING.match(node.value):
            found.append((node.lineno, node.value, True))
    return found


def violations(root: Path) -> list[Violation]:
    found = []
    sources = [p for top in ("zhoukou_grid", *APPS) for p in (root / top).rglob("*.py") if "migrations" not in p.parts]
    wiring_modules = {
        module_name(p, root) for p in (root / "zhoukou_grid").glob("*.py") if p.name != "__init__.py"
    }
    for path in sources:
        module = module_name(path, root)
        room = room_of(module)
        for line, target, is_string in imports_of(path, module):
            target_room = room_of(target)
            if target_room == "outside" or target_room == room:
                continue
            if room in ("core", "territory") and target_room in APPS:
                rule = "the ground floor names no app" + (" (dotted string)" if is_string else "")
            elif is_string:
                continue  # permission and model labels of a higher app are fine in an app
            elif room == "core" and target_room == "territory" and not target.startswith("zhoukou_grid.territory.models"):
                rule = "core takes only the models from territory"
            elif room != "wiring" and target_room == "wiring" and (
                target in wiring_modules or target.rpartition(".")[0] in wiring_modules
            ):
                rule = "only the wiring imports a wiring module"
            elif room in APPS and target_room in APPS and target_room not in APP_MAY_IMPORT[room]:
                rule = f"{room} may import only {sorted(APP_MAY_IMPORT[room]) or 'no other app'}"
            else:
                continue
            if not any(v.module == module and v.line == line for v in found):  # one per import line
                found.append(Violation(module, line, target, rule))
    return found


def test_the_code_keeps_the_import_directions():
    assert [str(v) for v in violations(REPO)] == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for top in ("zhoukou_grid", *APPS):
        (tmp_path / top).mkdir(exist_ok=True)
    return tmp_path


@pytest.mark.parametrize(("files", "rule"), [
    ({"zhoukou_grid/core/views.py": "from customers.models import Household\n"}, "the ground floor names no app"),
    ({"zhoukou_grid/territory/views.py": "def f():\n    from visits import models\n"}, "the ground floor names no app"),
    ({"zhoukou_grid/core/spec.py": 'FILTER = "customers.filters.ResidentFilterSet"\n'}, "(dotted string)"),
    ({"zhoukou_grid/core/scoping.py": "from zhoukou_grid.territory.views import countable\n"},
     "core takes only the models"),
    ({"zhoukou_grid/settings.py": "", "customers/views.py": "from zhoukou_grid import settings\n"},
     "only the wiring imports a wiring module"),
    ({"zhoukou_grid/home.py": "", "zhoukou_grid/territory/views.py": "from ..home import home\n"},
     "only the wiring imports a wiring module"),
    ({"visits/views.py": "from loadforecast.models import Alert\n"}, "visits may import only"),
    ({"customers/views.py": "import visits.models\n"}, "customers may import only"),
])
def test_an_import_against_the_direction_is_reported(tmp_path, files, rule):
    found = violations(_tree(tmp_path, files))
    assert len(found) == 1 and rule in found[0].rule, found


def test_allowed_imports_are_not_reported(tmp_path):
    root = _tree(tmp_path, {
        "zhoukou_grid/urls.py": "import customers.urls\nimport visits.urls\n",
        "zhoukou_grid/core/scoping.py": "from zhoukou_grid.territory.models import Grid\n",
        "zhoukou_grid/territory/views.py": "from zhoukou_grid.core.views import ScopedListView\n",
        "loadforecast/services.py": "from customers.models import Household\nfrom zhoukou_grid.core import audit\n",
        "customers/apps.py": 'PERM = "customers.view_household"\n',
    })
    assert violations(root) == []
