#!/usr/bin/env python3
"""Check the pinned dependencies against PyPI's vulnerability data (`make lint`).

Why not plain `pip-audit`: it reads PyPI's per-release JSON (/pypi/<name>/<version>/json)
or osv.dev; on the company network and on our build machines only the per-project JSON
(/pypi/<name>/json) answers, and `pip-audit -s pypi` then skips every package and still
reports "No known vulnerabilities found". This script uses what answers:

- `vulnerabilities` of the project JSON (the advisories against the latest release, each
  with the versions that fix it): a pin older than every fix of an advisory FAILS;
- the pinned release is yanked: FAILS (with PyPI's reason);
- a newer release of the same minor series exists (5.2.19 → 5.2.20): WARNS, since patch
  releases are where security fixes land; read its notes and move the pin.

Exit 0: no finding; 1: a finding; 2: PyPI could not be asked (that is not a pass).
Usage: tools/dependency_audit.py [--pypi URL] [requirements.txt ...] (default files:
requirements.txt and requirements-dev.txt; default URL: https://pypi.org/pypi).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: int = 0


def pins_of(paths: list[Path]) -> dict[str, str]:
    """name → version of every `name==version` line (following `-r other.txt`)."""
    pins: dict[str, str] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("-r "):
                pins.update(pins_of([path.parent / stripped[3:].strip()]))
                continue
            match = PIN.match(line)
            if match:
                pins[match.group(1).lower()] = match.group(2)
    return pins


def version_key(version: str):
    """A sortable key (PEP 440 through `packaging`, which pip and pytest bring along)."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def is_plain(version: str) -> bool:
    return re.fullmatch(r"\d+(\.\d+)*", version) is not None


PYPI = "https://pypi.org/pypi"


def fetch_pypi(name: str, base: str = PYPI) -> dict:
    with urllib.request.urlopen(f"{base.rstrip('/')}/{name}/json", timeout=30) as answer:  # noqa: S310
        return json.load(answer)


def audit(pins: dict[str, str], fetch: Callable[[str], dict] = fetch_pypi) -> Report:
    report = Report()
    for name, pinned in sorted(pins.items()):
        data = fetch(name)
        report.checked += 1
        pinned_key = version_key(pinned)
        for advisory in data.get("vulnerabilities") or []:
            if advisory.get("withdrawn"):
                continue
            fixes = [v for v in advisory.get("fixed_in") or [] if v]
            # Affected unless a fix of this advisory is at or below our pin (same series or older).
            if not any(version_key(fix) <= pinned_key for fix in fixes):
                ident = ", ".join([advisory.get("id", "?"), *(advisory.get("aliases") or [])])
                fix_text = f"fixed in {', '.join(fixes)}" if fixes else "no fixed release"
                report.failures.append(f"{name}=={pinned}: {ident} ({fix_text})")
        files = (data.get("releases") or {}).get(pinned)
        if files is None:
            report.warnings.append(f"{name}=={pinned}: this version is not on PyPI's list of releases")
        elif files and all(entry.get("yanked") for entry in files):
            reason = files[0].get("yanked_reason") or "no reason given"
            report.failures.append(f"{name}=={pinned}: the release is yanked ({reason})")
        series = pinned.split(".")[:2]
        newer = [v for v, entries in (data.get("releases") or {}).items()
                 if is_plain(v) and v.split(".")[:2] == series and version_key(v) > pinned_key
                 and entries and not all(entry.get("yanked") for entry in entries)]
        if newer:
            report.warnings.append(f"{name}=={pinned}: newer release(s) of the same series: "
                                   f"{', '.join(sorted(newer, key=version_key))}")
    return report


def main(argv: list[str]) -> int:
    base = PYPI
    if argv[:1] == ["--pypi"]:
        base, argv = argv[1], argv[2:]
    paths = [Path(arg) for arg in argv] or [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]
    pins = pins_of(paths)
    try:
        report = audit(pins, fetch=lambda name: fetch_pypi(name, base))
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        print(f"dependency audit: PyPI could not be asked ({exc}); this is not a pass.", file=sys.stderr)
        return 2
    for line in report.warnings:
        print(f"WARN  {line}")
    for line in report.failures:
        print(f"FAIL  {line}")
    print(f"dependency audit: {report.checked} pinned packages checked, {len(report.failures)} finding(s), "
          f"{len(report.warnings)} warning(s).")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
