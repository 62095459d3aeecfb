#!/usr/bin/env bash
# Back up the portal: the PostgreSQL database (pg_dump, custom format) and the media folder
# (visit photos, import files), into one timestamped folder with a manifest and checksums;
# then keep only the newest BACKUP_KEEP backups.
#
#   deploy/backup.sh [--env-file /etc/zhoukou-grid/portal.env] [--dest DIR] [--keep N]
#
# Reads DATABASE_URL and MEDIA_ROOT (and BACKUP_DIR, BACKUP_KEEP) from the environment or
# from --env-file. Writes DIR/zhoukou-grid-YYYYMMDDTHHMMSSZ/ containing
#   database.dump  pg_dump --format=custom (restore with deploy/restore.sh or pg_restore)
#   media.tar.gz   the media folder
#   manifest.txt   when, what database, which versions, the latest migration of each app
#   SHA256SUMS     checksums of the three files above (sha256sum -c SHA256SUMS)
# A backup is written as *.partial and renamed only when complete: a folder without
# .partial is a whole backup. Runs while the portal runs (pg_dump reads one consistent
# snapshot). Exit status 0 on success; the last line printed is the backup folder.
set -euo pipefail
umask 077

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "backup.sh: $*" >&2; exit 2; }

env_file="" dest="" keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) env_file="${2:?--env-file needs a file}"; shift 2 ;;
    --dest) dest="${2:?--dest needs a folder}"; shift 2 ;;
    --keep) keep="${2:?--keep needs a number}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
if [ -n "$env_file" ]; then
  [ -r "$env_file" ] || die "cannot read $env_file"
  set -a; # shellcheck disable=SC1090
  . "$env_file"; set +a
fi

dest="${dest:-${BACKUP_DIR:-/var/backups/zhoukou-grid}}"
keep="${keep:-${BACKUP_KEEP:-14}}"
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || die "--keep must be a whole number of at least 1, not '$keep'"
database_url="${DATABASE_URL:-}"
case "$database_url" in
  postgres://*|postgresql://*) ;;
  "") die "DATABASE_URL is not set (use --env-file /etc/zhoukou-grid/portal.env)" ;;
  *) die "DATABASE_URL is not a PostgreSQL URL; only PostgreSQL databases are backed up by this script" ;;
esac
media_root="${MEDIA_ROOT:-}"
[ -n "$media_root" ] || die "MEDIA_ROOT is not set (use --env-file /etc/zhoukou-grid/portal.env)"
[ -d "$media_root" ] || die "MEDIA_ROOT $media_root is not a folder"
for tool in pg_dump psql tar gzip sha256sum flock; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install postgresql-client coreutils tar gzip util-linux)"
done

mkdir -p "$dest"
# One backup at a time (a slow one and the next timer run must not interleave).
exec 9>"$dest/.backup.lock"
flock -n 9 || die "another backup is running (lock $dest/.backup.lock)"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$dest/zhoukou-grid-$stamp"
work="$final.partial"
[ ! -e "$final" ] && [ ! -e "$work" ] || die "$final already exists"
mkdir "$work"
trap 'rm -rf "$work"' EXIT

# The database: custom format (compressed; pg_restore can pick and reorder). Owner and
# grants are kept in the dump; restore.sh leaves them out so any role can restore.
pg_dump --format=custom --compress=6 --file="$work/database.dump" --dbname="$database_url"

# The media folder, relative paths (restore anywhere).
tar --create --gzip --file="$work/media.tar.gz" --directory="$media_root" .

db_name="$(psql --dbname="$database_url" --no-psqlrc --tuples-only --no-align --command='SELECT current_database()')"
migrations="$(psql --dbname="$database_url" --no-psqlrc --tuples-only --no-align --field-separator=' ' \
  --command="SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app" 2>/dev/null || echo "(no django_migrations table)")"
{
  echo "backup of the Zhoukou Grid Service Portal"
  echo "created_utc: $stamp"
  echo "host: $(hostname)"
  echo "database: $db_name"
  echo "media_root: $media_root"
  echo "media_files: $(find "$media_root" -type f | wc -l)"
  echo "pg_dump: $(pg_dump --version)"
  echo "server: $(psql --dbname="$database_url" --no-psqlrc --tuples-only --no-align --command='SHOW server_version')"
  echo "latest migrations:"
  echo "$migrations" | sed 's/^/  /'
} > "$work/manifest.txt"
(cd "$work" && sha256sum database.dump media.tar.gz manifest.txt > SHA256SUMS)

mv "$work" "$final"
trap - EXIT

# Retention: keep the newest $keep complete backups (names sort by time).
mapfile -t backups < <(find "$dest" -maxdepth 1 -type d -name 'zhoukou-grid-*' ! -name '*.partial' -printf '%f\n' | sort)
if [ "${#backups[@]}" -gt "$keep" ]; then
  for old in "${backups[@]:0:${#backups[@]}-keep}"; do
    rm -rf -- "${dest:?}/$old"
    echo "removed old backup $dest/$old"
  done
fi
echo "$final"
