#!/usr/bin/env bash
# Take a wabot backup and copy it (and the device store) to another machine.
# Usage: backup-offsite.sh user@host:/path/to/backups/
# Environment: WABOT (default: wabot), WABOT_CONFIG (passed through to wabot).
set -euo pipefail

target=${1:?usage: backup-offsite.sh user@host:/path/}
wabot=${WABOT:-wabot}

# Say what is missing before a backup is taken that could not be copied.
for tool in "$wabot" python3 rsync; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "backup-offsite.sh: $tool is not installed (or not on PATH); nothing was done" >&2
        exit 69
    fi
done

report=$($wabot backup --json)
path=$(printf '%s' "$report" | python3 -c 'import json, sys; print(json.load(sys.stdin)["path"])')
device=$(printf '%s' "$report" | python3 -c 'import json, sys; print(json.load(sys.stdin)["device_store"] or "")')

files=("$path")
if [ -n "$device" ]; then
    files+=("$device")
fi
# --chmod keeps the copies private on the other side too.
rsync --chmod=F600 --partial -- "${files[@]}" "$target"
echo "copied ${files[*]} to $target" >&2
