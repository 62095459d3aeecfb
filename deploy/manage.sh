#!/usr/bin/env bash
# Run manage.py on the server with the portal's environment file, as the portal's user.
#
#   deploy/manage.sh migrate
#   deploy/manage.sh collectstatic --no-input
#   deploy/manage.sh createsuperuser
#
# ZG_ENV_FILE names another environment file (default /etc/zhoukou-grid/portal.env);
# ZG_RUN_AS another user (default zhoukou-grid; empty: the current user).
set -euo pipefail
cd "$(dirname "$0")/.."
env_file="${ZG_ENV_FILE:-/etc/zhoukou-grid/portal.env}"
run_as="${ZG_RUN_AS-zhoukou-grid}"
[ -r "$env_file" ] || { echo "manage.sh: cannot read $env_file" >&2; exit 2; }
[ -x .venv/bin/python ] || { echo "manage.sh: no .venv here ($(pwd)); see README, Deploying on a server" >&2; exit 2; }
if [ -n "$run_as" ] && [ "$(id -un)" != "$run_as" ]; then
  exec runuser -u "$run_as" -- bash -c 'set -a; . "$0"; set +a; exec .venv/bin/python manage.py "$@"' "$env_file" "$@"
fi
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
exec .venv/bin/python manage.py "$@"
