#!/usr/bin/env bash
# Build the one-folder Linux app: dist/model-playground/model-playground
# Usage: packaging/build.sh            (from anywhere; uses the project's uv environment)
#        DIST=/some/dir packaging/build.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${DIST:-$ROOT/dist}"
WORK="${WORK:-$ROOT/build/pyinstaller}"
cd "$ROOT"

start=$(date +%s)
uv run --group dev pyinstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" packaging/model-playground.spec

APP="$DIST/model-playground"
# Icons in the freedesktop layout, so the .desktop entry can be installed with them.
for size in 16 24 32 48 64 128 256 512; do
    mkdir -p "$APP/share/icons/hicolor/${size}x${size}/apps"
    cp "assets/icons/model-playground-${size}.png" "$APP/share/icons/hicolor/${size}x${size}/apps/model-playground.png"
done
mkdir -p "$APP/share/icons/hicolor/scalable/apps" "$APP/share/applications"
cp assets/icons/model-playground.svg "$APP/share/icons/hicolor/scalable/apps/model-playground.svg"
cp packaging/model-playground.desktop "$APP/share/applications/model-playground.desktop"

# Smoke test: the frozen app starts and answers --version.
"$APP/model-playground" --version
echo "built $APP in $(( $(date +%s) - start )) s, $(du -sh "$APP" | cut -f1)"
