#!/usr/bin/env bash
# Plain Alembic on janitoo_template's branch, from any directory:
#
#   ./alembic.sh heads
#   ./alembic.sh history
#   ./alembic.sh upgrade heads
#   ./alembic.sh revision -m "Add a column" --head=janitoo_template@head
#
# It runs `alembic -c janitoo_template.conf -n database ARGS...`.  The database is
# $JANITOO_DB_URL when set, else the conf file's sqlalchemy.url.  `revision` also
# gets --version-path=models/janitoo_template (Alembic accepts that option on
# `revision` only), so new revisions land in this extension's version directory.
# The alembic program is the active virtual environment's, else the one in this
# project's .venv (made by the README's set-up command), else the one on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
conf="$here/janitoo_template.conf"
version_path="$here/models/janitoo_template"

if [[ -z "${VIRTUAL_ENV:-}" && -x "$here/.venv/bin/alembic" ]]; then
    alembic="$here/.venv/bin/alembic"
else
    alembic=alembic
fi

global=(-c "$conf" -n database)
if [[ -n "${JANITOO_DB_URL:-}" ]]; then
    global+=(-x "url=$JANITOO_DB_URL")
fi

# Find the Alembic command: the first argument that is neither an option nor
# the value of a global option that takes one (-c, -n, -x).
subcommand=""
has_version_path=0
expect_value=0
for arg in "$@"; do
    if (( expect_value )); then
        expect_value=0
        continue
    fi
    case "$arg" in
        --version-path|--version-path=*) has_version_path=1 ;;
    esac
    if [[ -z "$subcommand" ]]; then
        case "$arg" in
            -c|--config|-n|--name|-x) expect_value=1 ;;
            -*) ;;
            *) subcommand="$arg" ;;
        esac
    fi
done

extra=()
if [[ "$subcommand" == "revision" && $has_version_path -eq 0 ]]; then
    extra=(--version-path="$version_path")
fi

# ${extra[@]+...}: an empty array under `set -u` in bash before 4.4.
exec "$alembic" "${global[@]}" "$@" ${extra[@]+"${extra[@]}"}
