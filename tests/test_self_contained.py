"""The repository stands on its own: nothing in it points at files beside the clone.

The audit hook in `tests/conftest.py` fails any test that opens a file beside the
repository; these tests check that the hook works and that no tracked file names such a
path or a reference document that is not in the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import _OUTSIDE_READS, _REPO, is_beside_repository

# Reference texts that live outside the repository, and ways of reaching beside it.
FORBIDDEN = re.compile(
    r"\.\./shared|/work/shared|shared/samples|parent\.parent\.parent|parents\[3\]"
    r"|DOMAIN\.md|IMPORT_FORMATS\.md|FIELD_NOTES\.md|STYLE\.md"
)
THIS_FILE = Path(__file__).resolve().relative_to(_REPO).as_posix()


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=_REPO, capture_output=True, check=True).stdout
    files = []
    for name in names.decode().split("\0"):
        if not name or name == THIS_FILE or name.endswith((".mo", ".xlsx", ".png", ".woff2", ".ico", ".gz")):
            continue
        files.append(_REPO / name)
    return files


def test_no_tracked_file_points_outside_the_repository():
    offenders = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # GBK fixtures and binary files carry no paths
        for number, line in enumerate(text.splitlines(), 1):
            if FORBIDDEN.search(line):
                offenders.append(f"{path.relative_to(_REPO)}:{number}: {line.strip()[:120]}")
    assert offenders == []


def test_the_documents_that_code_cites_are_in_the_repository():
    for name in ("docs/domain.md", "docs/import-formats.md", "docs/security.md"):
        assert (_REPO / name).is_file(), name


def test_a_read_beside_the_repository_is_caught(tmp_path, monkeypatch):
    beside = _REPO.parent / "zz-notes-beside-the-clone" / "DOMAIN.txt"
    siblings = frozenset({"zz-notes-beside-the-clone"})
    assert is_beside_repository(str(beside), siblings)
    assert not is_beside_repository(str(_REPO / "README.md"), siblings)
    assert not is_beside_repository(str(tmp_path / "x.txt"), siblings)
    monkeypatch.setattr(conftest, "_SIBLINGS", siblings)
    start = len(_OUTSIDE_READS)
    with pytest.raises(OSError):
        open(beside, encoding="utf-8")  # noqa: SIM115 - the attempt is what the hook sees
    assert _OUTSIDE_READS[start:] == [str(beside)]
    del _OUTSIDE_READS[start:]  # this test's own read is not a failure
