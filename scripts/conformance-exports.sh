#!/usr/bin/env bash
# Imports every WhatsApp export of the shared corpus and compares it with EXPECTED.tsv:
# one line per file, the totals, and a failure on any difference.
# The corpus (third-party data, never copied into this repository) is looked up beside
# the checkout, ../shared/corpus/whatsapp-exports, or where WABOT_EXPORT_CORPUS says.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus="${WABOT_EXPORT_CORPUS:-../shared/corpus/whatsapp-exports}"
if [ ! -f "$corpus/EXPECTED.tsv" ]; then
    echo "conformance: no corpus at $corpus (EXPECTED.tsv missing); skipped" >&2
    exit 0
fi
WABOT_EXPORT_CORPUS="$(cd "$corpus" && pwd)" \
    cargo test --locked --test it conformance_exports -- --ignored --nocapture --test-threads=1
