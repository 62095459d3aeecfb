"""deploy/gunicorn.conf.py: gunicorn accepts it, and a real gunicorn serving the portal with
it logs requests without their query string (a search for a name or a phone travels there)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.deploy.keys import PERSONAL_DATA_ENV

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CONFIG = str(ROOT / "deploy" / "gunicorn.conf.py")


def _env(tmp_path, **extra):
    env = {key: value for key, value in os.environ.items()
           if key not in {"ZG_TESTING", "DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER", "DJANGO_SETTINGS_MODULE"}}
    # A production-like run (DEBUG off) on a throwaway SQLite file.
    env.update({"SECRET_KEY": "gunicorn-test-only", "ALLOWED_HOSTS": "127.0.0.1", **PERSONAL_DATA_ENV,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "MEDIA_ROOT": str(tmp_path / "media")})
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_accepts_the_configuration(tmp_path):
    result = subprocess.run([GUNICORN, "--check-config", "-c", CONFIG, "zhoukou_grid.wsgi"],
                            cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    printed = subprocess.run([GUNICORN, "--print-config", "-c", CONFIG, "zhoukou_grid.wsgi"],
                             cwd=ROOT, env=_env(tmp_path, GUNICORN_WORKERS="3"), capture_output=True, text=True,
                             timeout=60).stdout
    settings = dict(line.split(" = ", 1) for line in printed.splitlines() if " = " in line)
    settings = {key.strip(): value.strip() for key, value in settings.items()}
    assert settings["bind"] == "['127.0.0.1:8000']"  # loopback only
    assert settings["workers"] == "3"  # from the environment
    assert settings["preload_app"] == "True"
    assert int(settings["max_requests"]) > 0 and int(settings["max_requests_jitter"]) > 0
    assert settings["timeout"] == "120"
    nginx = (ROOT / "deploy" / "nginx-portal.conf").read_text()
    assert "proxy_read_timeout 120s;" in nginx  # nginx waits exactly as long as gunicorn lets a request run


def test_the_access_log_keeps_the_path_but_not_the_query_string(tmp_path):
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    server = subprocess.Popen([GUNICORN, "-c", CONFIG, "zhoukou_grid.wsgi"], cwd=ROOT,
                              env=_env(tmp_path, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1"),
                              stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?q=13812345678&name=%E5%BC%A0%E4%B8%89", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(log.read_text())
                time.sleep(0.3)
        deadline = time.monotonic() + 10
        while "/healthz" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    text = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in text
    assert "13812345678" not in text
    assert "q=" not in text
