"""deploy/nginx-portal.conf, run by a real nginx (a private instance on a free port).

The site file is used as shipped, with only its paths, ports and log files pointed at the
test's folder. A small stand-in for the app behind it records what nginx forwards and
answers a photo request with X-Accel-Redirect like the portal does (zhoukou_grid/core/media.py,
tested against Django in test_photo_files.py). Skipped where nginx is not installed
(`apt-get install nginx-light`).
"""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

NGINX = shutil.which("nginx") or (Path("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx-portal.conf"
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StandInApp(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        StandInApp.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        if self.path.startswith("/visits/photos/"):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Cache-Control", "private, max-age=3600")
            self.send_header("X-Accel-Redirect", "/protected-media/visits/photos/2026/01/p.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"app": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def start_nginx(tmp_path, *, app_port: int, static: Path, media: Path):
    """A private nginx on the shipped site file; returns (process, port, log folder)."""
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    port = _free_port()
    text = SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
        "/opt/zhoukou-grid/staticfiles/": f"{static}/",
        "/var/lib/zhoukou-grid/media/": f"{media}/",
        "/var/log/nginx/": f"{logs}/",
    }
    for old, new in replacements.items():
        assert old in text, f"the site file no longer contains {old!r}"
        text = text.replace(old, new)
    (tmp_path / "site.conf").write_text(text)
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    (tmp_path / "nginx.conf").write_text(f"""
user root;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {logs}/main-error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {temp['body']}; proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']}; uwsgi_temp_path {temp['uwsgi']}; scgi_temp_path {temp['scgi']};
    include {tmp_path}/site.conf;
}}
""")
    command = [str(NGINX), "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    server = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE, start_new_session=True)
    wait_for_port(port, server)
    return server, port, logs


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"nothing answers on port {port}") from None
            time.sleep(0.1)


def stop(process, sig=signal.SIGQUIT):
    process.send_signal(sig)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def site(tmp_path):
    static, media = tmp_path / "static", tmp_path / "media"
    for folder in (static, media / "visits" / "photos" / "2026" / "01"):
        folder.mkdir(parents=True)
    (static / "app.0123456789ab.css").write_text("body{color:red}")
    (static / "app.css").write_text("body{color:blue}")
    (media / "visits" / "photos" / "2026" / "01" / "p.png").write_bytes(PHOTO)

    app = ThreadingHTTPServer(("127.0.0.1", 0), StandInApp)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    StandInApp.seen = []
    server, port, logs = start_nginx(tmp_path, app_port=app.server_address[1], static=static, media=media)
    yield port, logs
    stop(server)
    app.shutdown()
    app.server_close()


def request(port, method, path, headers=None, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers={"Host": "portal.example.local", **(headers or {})})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def test_static_files_with_a_hash_in_their_name_are_cached_for_a_year(site):
    port, _logs = site
    response, data = request(port, "GET", "/static/app.0123456789ab.css")
    assert response.status == 200 and data == b"body{color:red}"
    assert response.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    response, data = request(port, "GET", "/static/app.css")
    assert response.status == 200 and data == b"body{color:blue}"
    assert response.getheader("Cache-Control") == "public, max-age=3600"


def test_uploaded_files_are_never_served_straight_from_the_disk(site):
    port, _logs = site
    response, _data = request(port, "GET", "/protected-media/visits/photos/2026/01/p.png")
    assert response.status == 404  # internal only
    response, data = request(port, "GET", "/media/visits/photos/2026/01/p.png")
    assert json.loads(data) == {"app": True}  # /media/ goes to the app (which answers 404), not to the folder
    assert StandInApp.seen[-1]["path"] == "/media/visits/photos/2026/01/p.png"


def test_a_photo_the_app_allows_is_sent_by_nginx_with_the_apps_content_type(site):
    port, _logs = site
    response, data = request(port, "GET", "/visits/photos/1/")
    assert response.status == 200
    assert data == PHOTO
    assert response.getheader("Content-Type") == "image/png"
    assert response.getheader("Cache-Control") == "private, max-age=3600"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Accel-Redirect") is None


def test_the_app_gets_one_trusted_client_address_and_the_scheme(site):
    port, _logs = site
    request(port, "GET", "/healthz", headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"})
    seen = StandInApp.seen[-1]
    assert seen["x-forwarded-for"] == "127.0.0.1"  # the client's own header is replaced
    assert seen["x-forwarded-proto"] == "https"  # the TLS proxy's word for the scheme
    assert seen["host"] == "portal.example.local"
    request(port, "GET", "/healthz")
    assert StandInApp.seen[-1]["x-forwarded-proto"] == "http"


def test_the_access_log_has_no_query_strings(site):
    port, logs = site
    request(port, "GET", "/households/residents/?q=13812345678")
    deadline = time.monotonic() + 5
    log = logs / "zhoukou-grid.access.log"
    while (not log.exists() or "/households/residents/" not in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert '"GET /households/residents/ HTTP/1.1" 200' in text
    assert "13812345678" not in text


def test_uploads_up_to_the_import_limit_pass_and_larger_ones_are_refused(site):
    port, _logs = site
    response, _data = request(port, "POST", "/imports/", body=b"x" * settings.IMPORT_MAX_UPLOAD_BYTES,
                              headers={"Content-Type": "application/octet-stream"})
    assert response.status == 200
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("POST", "/imports/", skip_host=True)
    connection.putheader("Host", "portal.example.local")
    connection.putheader("Content-Length", str(22 * 1024 * 1024))
    connection.endheaders()
    assert connection.getresponse().status == 413  # refused on the declared size, before the body
    connection.close()
