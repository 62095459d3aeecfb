"""tools/dependency_audit.py (run by `make lint`): decides from PyPI's project JSON, offline here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from django.conf import settings

SPEC = importlib.util.spec_from_file_location("dependency_audit", Path(settings.BASE_DIR) / "tools/dependency_audit.py")
dependency_audit = importlib.util.module_from_spec(SPEC)
sys.modules["dependency_audit"] = dependency_audit  # dataclasses look their module up there
SPEC.loader.exec_module(dependency_audit)


def project(*versions, vulnerabilities=(), yanked=()):
    return {"releases": {v: [{"yanked": v in yanked, "yanked_reason": "CVE in upload handling" if v in yanked else None}]
                         for v in versions},
            "vulnerabilities": list(vulnerabilities)}


def test_a_pin_older_than_every_fix_is_a_finding():
    data = {"django": project("5.2.18", "5.2.19", "6.0.1", vulnerabilities=[
        {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fixed_in": ["5.2.20", "6.0.2"]}])}
    report = dependency_audit.audit({"django": "5.2.19"}, fetch=data.__getitem__)
    assert report.failures == ["django==5.2.19: PYSEC-2099-1, CVE-2099-1 (fixed in 5.2.20, 6.0.2)"]


def test_a_pin_at_or_past_a_fix_is_clean_and_withdrawn_advisories_are_ignored():
    data = {"pillow": project("12.0.0", "13.0.0", vulnerabilities=[
        {"id": "GHSA-x", "fixed_in": ["12.0.0"]}, {"id": "GHSA-y", "fixed_in": [], "withdrawn": "2026-01-01"}])}
    report = dependency_audit.audit({"pillow": "13.0.0"}, fetch=data.__getitem__)
    assert report.failures == [] and report.warnings == []


def test_a_yanked_pin_fails_and_a_newer_patch_release_warns():
    data = {"celery": project("5.7.0", "5.7.1", "5.8.0", yanked={"5.7.0"}),
            "redis": project("8.1.0", "8.1.1", "8.1.2rc1")}
    report = dependency_audit.audit({"celery": "5.7.0", "redis": "8.1.0"}, fetch=data.__getitem__)
    assert report.failures == ["celery==5.7.0: the release is yanked (CVE in upload handling)"]
    assert report.warnings == ["celery==5.7.0: newer release(s) of the same series: 5.7.1",
                               "redis==8.1.0: newer release(s) of the same series: 8.1.1"]


def test_the_pins_are_read_from_both_requirement_files():
    pins = dependency_audit.pins_of([Path(settings.BASE_DIR) / "requirements-dev.txt"])
    assert pins["django"] and pins["pytest"] and pins["django-csp"] == "4.0"


def test_an_unreachable_pypi_is_not_a_pass(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("django==5.2.19\n")
    # Nothing listens on the discard port.
    assert dependency_audit.main(["--pypi", "http://127.0.0.1:9/pypi", str(requirements)]) == 2
