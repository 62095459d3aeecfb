"""deploy/systemd/: units systemd accepts, each process with its user, environment file and
hardening. (The worker's time limits live in the settings: tests/test_celery.py.)"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SERVICES = ["zhoukou-grid-web.service", "zhoukou-grid-worker.service", "zhoukou-grid-beat.service",
            "zhoukou-grid-backup.service"]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((UNITS / name).read_text().replace("\\\n", " "))
    return parser


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_every_unit(tmp_path):
    """`systemd-analyze verify` on the units, the server's paths pointed at this checkout."""
    venv_bin = str(Path(sys.executable).parent)
    for path in UNITS.iterdir():
        text = path.read_text().replace("/opt/zhoukou-grid/.venv/bin", venv_bin)
        (tmp_path / path.name).write_text(text.replace("/opt/zhoukou-grid/deploy", str(ROOT / "deploy")))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # no unknown key, no bad value


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_as_the_portal_user_with_the_environment_file_and_hardening(name):
    service = unit(name)["Service"]
    assert service["User"] == service["Group"] == "zhoukou-grid"
    assert service["EnvironmentFile"] == "/etc/zhoukou-grid/portal.env"
    assert service["WorkingDirectory"] == "/opt/zhoukou-grid"
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                       "ProtectHome": "yes", "CapabilityBoundingSet": ""}.items():
        assert service[key] == value, f"{name}: {key}"


def test_only_the_processes_that_store_uploads_may_write_the_media_folder():
    assert unit("zhoukou-grid-web.service")["Service"]["ReadWritePaths"] == "/var/lib/zhoukou-grid/media"
    assert unit("zhoukou-grid-worker.service")["Service"]["ReadWritePaths"] == "/var/lib/zhoukou-grid/media"
    assert "ReadWritePaths" not in unit("zhoukou-grid-beat.service")["Service"]
    assert unit("zhoukou-grid-backup.service")["Service"]["ReadWritePaths"] == "/var/backups/zhoukou-grid"


def test_the_long_running_processes_restart_and_the_commands_are_the_documented_ones():
    web, worker, beat = (unit(f"zhoukou-grid-{n}.service")["Service"] for n in ("web", "worker", "beat"))
    assert web["ExecStart"].split() == ["/opt/zhoukou-grid/.venv/bin/gunicorn", "-c", "deploy/gunicorn.conf.py",
                                        "zhoukou_grid.wsgi"]
    assert worker["ExecStart"].split()[:4] == ["/opt/zhoukou-grid/.venv/bin/celery", "-A", "zhoukou_grid", "worker"]
    assert beat["ExecStart"].split()[:4] == ["/opt/zhoukou-grid/.venv/bin/celery", "-A", "zhoukou_grid", "beat"]
    assert web["Restart"] == "on-failure" and worker["Restart"] == beat["Restart"] == "always"
    # A warm shutdown lets running tasks finish for a while before systemd kills the worker.
    assert int(worker["TimeoutStopSec"]) >= 60
    timer = unit("zhoukou-grid-backup.timer")["Timer"]
    assert timer["OnCalendar"] and timer["Persistent"] == "true"

