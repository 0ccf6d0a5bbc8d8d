#!/usr/bin/env bash
# After the first cargo build on a fresh target directory, give the descriptor that
# waproto's build script writes (and tells cargo to watch) the time of the script's own
# run. Cargo counts a watched file newer than that run as changed, so without this the
# second cargo call rebuilds waproto → wacore → whatsapp-rust → wabot once (minutes on
# 2 cores); with it, every later call is fresh. Harmless to repeat.
set -euo pipefail
target="${CARGO_TARGET_DIR:-$(dirname "$0")/../target}"
[ -d "$target" ] || exit 0
find "$target" -path '*/build/waproto-*/out/whatsapp.local.desc' -print0 |
    while IFS= read -r -d '' desc; do
        touch -r "${desc%/out/whatsapp.local.desc}/output" "$desc"
    done
