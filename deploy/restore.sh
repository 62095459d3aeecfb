#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh into a named database and a media folder.
#
#   deploy/restore.sh BACKUP_FOLDER --database-url postgres://USER:PASSWORD@HOST:PORT/NAME \
#                     --media DIR [--force]
#   deploy/restore.sh BACKUP_FOLDER --database NAME --media DIR [--force] [--env-file FILE]
#
# --database NAME restores into database NAME on the server (and as the user) of
# DATABASE_URL (from the environment or --env-file); --database-url names it in full.
# The database must exist (createdb --owner=zhoukou NAME). The checksums are verified first.
# Refuses to write into a database that has tables, or into a media folder that has
# files, unless --force is given: then the backup's tables replace those of the same name
# (pg_restore --clean) and the old media folder is kept beside the new one as
# DIR.before-restore-<time>.
# Stop the portal first (systemctl stop zhoukou-grid.target) when restoring over the live
# database, then run `deploy/manage.sh migrate` and start it again.
set -euo pipefail
umask 027

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "restore.sh: $*" >&2; exit 2; }

backup="" target_url="" target_name="" media="" force=0 env_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database-url) target_url="${2:?--database-url needs a URL}"; shift 2 ;;
    --database) target_name="${2:?--database needs a name}"; shift 2 ;;
    --media) media="${2:?--media needs a folder}"; shift 2 ;;
    --force) force=1; shift ;;
    --env-file) env_file="${2:?--env-file needs a file}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) [ -z "$backup" ] || die "one backup folder only"; backup="$1"; shift ;;
  esac
done
[ -n "$backup" ] || die "which backup? (see --help)"
[ -d "$backup" ] || die "$backup is not a folder"
[ -n "$media" ] || die "--media DIR is required (the MEDIA_ROOT to restore into)"
if [ -n "$env_file" ]; then
  [ -r "$env_file" ] || die "cannot read $env_file"
  set -a; # shellcheck disable=SC1090
  . "$env_file"; set +a
fi
if [ -n "$target_name" ]; then
  [ -z "$target_url" ] || die "give --database or --database-url, not both"
  [[ "$target_name" =~ ^[A-Za-z0-9_-]+$ ]] || die "database name '$target_name': letters, digits, _ and - only"
  base="${DATABASE_URL:-}"
  case "$base" in postgres://*|postgresql://*) ;; *) die "--database needs DATABASE_URL (a PostgreSQL URL) for the server and user" ;; esac
  # Replace the database part of the URL, keep any ?options.
  query=""; [[ "$base" == *\?* ]] && query="?${base#*\?}"
  without_query="${base%%\?*}"
  target_url="${without_query%/*}/$target_name$query"
fi
case "$target_url" in
  postgres://*|postgresql://*) ;;
  "") die "--database NAME or --database-url URL is required" ;;
  *) die "--database-url must be a PostgreSQL URL" ;;
esac
for tool in pg_restore psql tar sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install postgresql-client coreutils tar)"
done

# 1. The backup is whole and unchanged.
for part in database.dump media.tar.gz manifest.txt SHA256SUMS; do
  [ -f "$backup/$part" ] || die "$backup has no $part: not a complete backup"
done
(cd "$backup" && sha256sum --check --quiet SHA256SUMS) || die "checksums do not match: the backup is damaged"
tar --list --gzip --file="$backup/media.tar.gz" > /dev/null || die "media.tar.gz cannot be read"

# 2. The target database exists and is empty (or --force).
psql_target() { psql --dbname="$target_url" --no-psqlrc --tuples-only --no-align --set=ON_ERROR_STOP=1 "$@"; }
psql_target --command='SELECT 1' > /dev/null \
  || die "cannot connect to the target database (does it exist? createdb --owner=<role> <name>)"
tables="$(psql_target --command="SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
clean=()
if [ "$tables" != "0" ]; then
  [ "$force" = 1 ] || die "the target database has $tables tables; refusing to overwrite it without --force"
  clean=(--clean --if-exists)
fi

# 3. The media folder is empty (or --force: the old one is kept aside).
media_in_use=0
if [ -d "$media" ] && [ -n "$(find "$media" -mindepth 1 -print -quit)" ]; then
  [ "$force" = 1 ] || die "the media folder $media is not empty; refusing to overwrite it without --force"
  media_in_use=1
fi

# 4. Restore: all or nothing for the database; without the source's owner and grants, so
#    the tables belong to the role that restores (the portal's role).
pg_restore --dbname="$target_url" --no-owner --no-acl --exit-on-error --single-transaction "${clean[@]}" \
  "$backup/database.dump"
# A restored database has no planner statistics (a dump holds none) and autovacuum takes its
# time to gather them: without them the busiest pages ran 2-4x slower (bench/load).
psql_target --command='ANALYZE' > /dev/null
if [ "$media_in_use" = 1 ]; then
  aside="$media.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$media" "$aside"
  echo "the old media folder is kept as $aside"
fi
mkdir -p "$media"
tar --extract --gzip --file="$backup/media.tar.gz" --directory="$media" --no-same-owner
echo "restored $(sed -n 's/^database: //p' "$backup/manifest.txt") ($(sed -n 's/^created_utc: //p' "$backup/manifest.txt")) into $(psql_target --command='SELECT current_database()') and $media"
echo "next: deploy/manage.sh migrate (when the code is newer than the backup), then start the portal"
