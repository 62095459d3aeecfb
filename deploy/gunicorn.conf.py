"""gunicorn settings for the portal on the company server (deploy/portal-web.service).

    gunicorn -c deploy/gunicorn.conf.py zhoukou_grid.wsgi

Every value can be changed from the environment file (deploy/portal.env.example) without
editing this file. Behind nginx (deploy/nginx-portal.conf): gunicorn listens on loopback
only, and its timeout matches nginx's proxy_read_timeout.
"""

import multiprocessing
import os

# Loopback only: nginx is the one that faces the network. "unix:/run/zhoukou-grid/gunicorn.sock" also works.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]

# Sync workers: 2 × cores + 1 (5 on the 2-core server), at most 9 unless set.
workers = int(os.environ.get("GUNICORN_WORKERS") or min(2 * multiprocessing.cpu_count() + 1, 9))
worker_class = "sync"

# Keep in step with proxy_read_timeout in nginx-portal.conf: a request nginx still waits for
# is not killed by gunicorn, and the other way round. Large imports go to the Celery worker
# when REDIS_URL is set; without Redis an import of a 20 MB file runs in the request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5  # nginx keeps upstream connections open (keepalive in the upstream block)

# Recycle workers now and then (a leak can't grow for ever); the jitter keeps them from
# restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = 100

# Load Django once in the master: less memory per worker and a broken release fails at start,
# not at the first request. Database connections are opened lazily, after the fork.
# A code upgrade therefore needs `systemctl restart`, not a reload (README: upgrading).
preload_app = True

# Heartbeat files in memory, not on a disk that may be slow or full.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Only nginx on this host may set X-Forwarded-* (the scheme, the client address).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs to stdout/stderr: journald keeps them (journalctl -u zhoukou-grid-web).
# The access log holds the path WITHOUT the query string (%(U)s, not %(r)s): a search for a
# name or a phone number travels in the query string. No referer either (it carries one too).
accesslog = "-"
access_log_format = '%({x-forwarded-for}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

proc_name = "zhoukou-grid"
# No control socket: it would be created in $HOME, which the service user may not write.
control_socket_disable = True
