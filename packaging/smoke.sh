#!/usr/bin/env bash
# Smoke-tests the Linux bundle that packaging/build_linux.sh made, offscreen.
#
#   packaging/smoke.sh                  # build/dist/binnacle/binnacle and its tarball
#   SMOKE_RUNS=5 packaging/smoke.sh     # more start-up timing runs (default 3)
#
# 1. `binnacle --demo --smoke-test`: starts the in-process demo cluster, waits for its
#    tree, prints "binnacle smoke test: ..." and exits 0. (Falls back to --smoke-test,
#    loudly, if the bundle does not know --demo.)
# 2. Times `binnacle --smoke-test` (window shown = first paint) SMOKE_RUNS times.
# 3. Unpacks the tarball, runs its install.sh into a temporary prefix, starts the
#    installed command, then uninstalls and checks nothing is left.
# Settings, favorites and logs go to a temporary XDG home: CI never touches ~.
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE_DIR=build/dist/binnacle
EXE="$BUNDLE_DIR/binnacle"
RUNS="${SMOKE_RUNS:-3}"
PY=python3
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi

if [ ! -x "$EXE" ]; then
    echo "smoke.sh: no bundle at $EXE; run packaging/build_linux.sh first" >&2
    exit 1
fi
start=$(date +%s)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export QT_QPA_PLATFORM=offscreen
export XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config"
export XDG_STATE_HOME="$scratch/state" XDG_CACHE_HOME="$scratch/cache"
export XDG_RUNTIME_DIR="$scratch/runtime"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
unset BINNACLE_DATA_DIR BINNACLE_LOG_DIR

echo "== smoke: $EXE --demo --smoke-test"
demo_args=(--demo --smoke-test)
set +e
"$EXE" --help > "$scratch/help.txt" 2>&1
set -e
if ! grep -q -- "--demo" "$scratch/help.txt"; then
    echo "smoke.sh: WARNING: this bundle has no --demo; falling back to --smoke-test alone" >&2
    demo_args=(--smoke-test)
fi
expect="^binnacle smoke test: .*demo"
if [ "${demo_args[0]}" != --demo ]; then expect="^binnacle smoke test: "; fi
"$PY" packaging/startup_time.py --runs 1 --timeout 120 --label demo --what "demo tree shown" \
    --expect "$expect" \
    -- "$EXE" "${demo_args[@]}"

echo "== start-up time: $EXE --smoke-test, $RUNS runs"
"$PY" packaging/startup_time.py --runs "$RUNS" --timeout 60 --label bundle -- "$EXE" --smoke-test

if [ -d "$XDG_STATE_HOME/Binnacle/logs" ]; then
    echo "log folder: \$XDG_STATE_HOME/Binnacle/logs ($(ls "$XDG_STATE_HOME/Binnacle/logs" | tr '\n' ' '))"
fi

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' app/__init__.py)
tarball="build/dist/binnacle-$version-linux-$(uname -m).tar.gz"
if [ -f "$tarball" ]; then
    echo "== tarball: $tarball -> install.sh into a temporary prefix"
    tar -C "$scratch" -xzf "$tarball"
    unpacked="$scratch/binnacle-$version-linux-$(uname -m)"
    prefix="$scratch/prefix with space"
    PREFIX="$prefix" "$unpacked/install.sh" > "$scratch/install.txt"
    desktop="$prefix/share/applications/io.github.binnacle.Binnacle.desktop"
    grep -q "^Exec=\"$prefix/lib/binnacle/binnacle\"$" "$desktop" \
        || { echo "smoke.sh: installed desktop entry has a wrong Exec line:" >&2; cat "$desktop" >&2; exit 1; }
    for size in 16 22 24 32 48 64 128 256 512; do
        test -f "$prefix/share/icons/hicolor/${size}x${size}/apps/io.github.binnacle.Binnacle.png" \
            || { echo "smoke.sh: install.sh did not install the ${size} px icon" >&2; exit 1; }
    done
    "$PY" packaging/startup_time.py --runs 1 --label installed -- "$prefix/bin/binnacle" --smoke-test
    PREFIX="$prefix" "$unpacked/install.sh" --uninstall > /dev/null
    # mimeinfo.cache and icon-theme.cache are shared caches the desktop tools rebuild.
    left=$(find "$prefix" \( -type f -o -type l \) ! -name mimeinfo.cache \
        ! -name icon-theme.cache | head -n 5)
    if [ -n "$left" ]; then
        echo "smoke.sh: install.sh --uninstall left files behind:" >&2
        echo "$left" >&2
        exit 1
    fi
    echo "tarball: installs, starts and uninstalls cleanly ($(du -sh "$tarball" | cut -f1))"
else
    echo "smoke.sh: WARNING: no $tarball; install.sh not exercised" >&2
fi

echo "bundle size: $(du -sh "$BUNDLE_DIR" | cut -f1) ($BUNDLE_DIR)"
echo "smoke.sh passed in $(( $(date +%s) - start )) s"
