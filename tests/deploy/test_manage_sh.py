"""deploy/manage.sh runs manage.py with the settings of the environment file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.deploy.keys import PERSONAL_DATA_ENV

ROOT = Path(__file__).resolve().parents[2]


def test_manage_sh_reads_the_environment_file(tmp_path):
    env_file = tmp_path / "portal.env"
    env_file.write_text(f"SECRET_KEY=from-the-file\nALLOWED_HOSTS=portal.example.local\n"
                        f"DATABASE_URL=sqlite:///{tmp_path / 'db.sqlite3'}\nAXES_FAILURE_LIMIT=7\n"
                        + "".join(f"{name}={value}\n" for name, value in PERSONAL_DATA_ENV.items()))
    env = {key: value for key, value in os.environ.items()
           if key not in {"ZG_TESTING", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}}
    env.update({"ZG_ENV_FILE": str(env_file), "ZG_RUN_AS": ""})
    result = subprocess.run(
        ["bash", "deploy/manage.sh", "shell", "-c",
         "from django.conf import settings; print(settings.ALLOWED_HOSTS, settings.AXES_FAILURE_LIMIT, settings.DEBUG)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['portal.example.local'] 7 False"


def test_manage_sh_says_when_the_environment_file_is_missing(tmp_path):
    env = {**os.environ, "ZG_ENV_FILE": str(tmp_path / "missing.env"), "ZG_RUN_AS": ""}
    result = subprocess.run(["bash", "deploy/manage.sh", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "cannot read" in result.stderr
