"""deploy/backup.sh and deploy/restore.sh: a real round trip on PostgreSQL.

A throwaway database is migrated and filled with the demo county (seed_demo), beside a
media folder with a few files; backup.sh writes a backup, restore.sh restores it into a
second throwaway database and media folder; every table's rows, the sequences and the
media files must come back identical. Both databases are dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.deploy.keys import PERSONAL_DATA_ENV

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(not DATABASE_URL.startswith(("postgres://", "postgresql://")),
                                    reason="needs DATABASE_URL on PostgreSQL (set in CI)")


def _url_for(name: str) -> str:
    parts = urlsplit(DATABASE_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_connection():
    import psycopg2

    connection = psycopg2.connect(DATABASE_URL)
    connection.autocommit = True
    return connection


@pytest.fixture
def databases():
    """Two fresh, empty databases (source and target), dropped at the end."""
    tag = uuid.uuid4().hex[:10]
    names = [f"zg_backup_src_{tag}", f"zg_backup_dst_{tag}"]
    connection = _admin_connection()  # no `with`: psycopg2 would open a transaction block
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    yield [_url_for(name) for name in names]
    connection = _admin_connection()
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def _env(**extra) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in {"ZG_TESTING", "REDIS_URL", "PYTEST_XDIST_WORKER", "DJANGO_SETTINGS_MODULE",
                          "TEST_DATABASE_NAME"}}
    env.update({"SECRET_KEY": "backup-test-only", **PERSONAL_DATA_ENV}, **extra)
    return env


def _run(args, env, check=True):
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Per table: row count and a checksum of every row; per sequence: its last value."""
    import psycopg2

    snapshot = {}
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) '
                           f'FROM public."{table}" t')
            snapshot[table] = cursor.fetchone()
        cursor.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")
        for name, last_value in cursor.fetchall():
            snapshot[f"sequence {name}"] = (last_value, "")
    connection.close()
    return snapshot


def _analyzed_tables(url: str) -> set[str]:
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
        tables = {name for (name,) in cursor.fetchall()}
    connection.close()
    return tables


def _files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@needs_postgres
def test_a_backup_restores_into_a_fresh_database_and_media_folder_identically_and_a_damaged_one_is_refused(databases, tmp_path):
    source_url, target_url = databases
    media = tmp_path / "media"
    (media / "visits" / "photos" / "2026" / "01").mkdir(parents=True)
    (media / "visits" / "photos" / "2026" / "01" / "门前.jpg").write_bytes(bytes(range(256)) * 40)
    (media / "imports" / "2026" / "01").mkdir(parents=True)
    (media / "imports" / "2026" / "01" / "residents.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    source_env = _env(DATABASE_URL=source_url, MEDIA_ROOT=str(media))
    _run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], source_env)
    _run([sys.executable, "manage.py", "seed_demo", "--scale", "demo", "--force"], source_env)
    before = _snapshot(source_url)
    assert before["customers_household"][0] > 0 and before["zhoukou_grid_transformer"][0] > 0

    # Two old backups and a half-written one: retention keeps the newest two complete ones.
    backups = tmp_path / "backups"
    for old in ("zhoukou-grid-20200101T000000Z", "zhoukou-grid-20200102T000000Z", "zhoukou-grid-20200103T000000Z"):
        (backups / old).mkdir(parents=True)
    result = _run(["bash", "deploy/backup.sh", "--dest", str(backups), "--keep", "2"], source_env)
    backup = Path(result.stdout.strip().splitlines()[-1])
    assert backup.parent == backups and backup.name.startswith("zhoukou-grid-20")
    assert sorted(path.name for path in backups.iterdir() if not path.name.startswith(".")) == [
        "zhoukou-grid-20200103T000000Z", backup.name]
    assert sorted(path.name for path in backup.iterdir()) == ["SHA256SUMS", "database.dump", "manifest.txt",
                                                             "media.tar.gz"]
    manifest = (backup / "manifest.txt").read_text()
    assert f"database: {urlsplit(source_url).path[1:]}" in manifest
    assert "media_files: 2" in manifest and "  customers " in manifest

    # A damaged copy of the backup is refused before anything is written.
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    with (damaged / "database.dump").open("r+b") as dump:
        dump.seek(200)
        byte = dump.read(1)
        dump.seek(200)
        dump.write(bytes([byte[0] ^ 0xFF]))
    refused = _run(["bash", "deploy/restore.sh", str(damaged), "--database-url", target_url,
                    "--media", str(tmp_path / "restored-media")], _env(), check=False)
    assert refused.returncode == 2 and "checksums do not match" in refused.stderr
    assert _snapshot(target_url) == {}
    assert not (tmp_path / "restored-media").exists()

    # Restore into the second database (named: same server and user as DATABASE_URL) and a new media folder.
    restored_media = tmp_path / "restored-media"
    _run(["bash", "deploy/restore.sh", str(backup), "--database", urlsplit(target_url).path[1:],
          "--media", str(restored_media)], _env(DATABASE_URL=source_url))
    assert _snapshot(target_url) == before
    assert _files(restored_media) == _files(media)
    # The restore gathered planner statistics (a dump carries none).
    assert _analyzed_tables(target_url) >= {"customers_household", "zhoukou_grid_transformer"}

    assert before["django_migrations"][0] > 0  # the migration state came along: nothing to re-apply

    # A second restore into the now non-empty database is refused and changes nothing ...
    refused = _run(["bash", "deploy/restore.sh", str(backup), "--database-url", target_url,
                    "--media", str(tmp_path / "other-media")], _env(), check=False)
    assert refused.returncode == 2
    assert "refusing to overwrite it without --force" in refused.stderr
    assert not (tmp_path / "other-media").exists()
    # ... and so is one into a non-empty media folder, before the database is touched.
    refused = _run(["bash", "deploy/restore.sh", str(backup), "--database-url", target_url, "--media",
                    str(restored_media)], _env(), check=False)
    assert refused.returncode == 2

    # --force replaces both; the old media folder is kept aside.
    (restored_media / "stray.txt").write_text("written after the backup")
    _run(["bash", "deploy/restore.sh", str(backup), "--database-url", target_url, "--media", str(restored_media),
          "--force"], _env())
    assert _snapshot(target_url) == before
    assert _files(restored_media) == _files(media)
    aside = [path for path in tmp_path.iterdir() if path.name.startswith("restored-media.before-restore-")]
    assert len(aside) == 1 and (aside[0] / "stray.txt").exists()


def test_backup_refuses_a_database_that_is_not_postgresql(tmp_path):
    (tmp_path / "media").mkdir()
    result = _run(["bash", "deploy/backup.sh", "--dest", str(tmp_path / "backups")],
                  _env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", MEDIA_ROOT=str(tmp_path / "media")),
                  check=False)
    assert result.returncode == 2
    assert "not a PostgreSQL URL" in result.stderr
    assert not (tmp_path / "backups").exists()
