#!/usr/bin/env bash
# Bring a wabot backup back: stop the listener, restore, start it again.
# Usage: restore.sh /path/to/wabot-YYYYmmdd-HHMMSS.db
# The device store backup (*.device.db) beside it is restored too, if present.
set -euo pipefail

backup=${1:?usage: restore.sh BACKUP.db}
wabot=${WABOT:-wabot}
unit=${WABOT_UNIT:-wabot-listen.service}

if [ ! -f "$backup" ]; then
    echo "no such backup: $backup" >&2
    exit 66
fi
systemctl stop "$unit"
# Start the listener again whatever happens below.
trap 'systemctl start "$unit"' EXIT
$wabot restore --yes "$backup"
$wabot stats
