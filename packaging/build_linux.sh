#!/usr/bin/env bash
# Builds Binnacle's Linux bundle (PyInstaller, one folder) and a tarball to install it.
#
#   packaging/build_linux.sh            # -> build/dist/binnacle/ and
#                                       #    build/dist/binnacle-<version>-linux-<arch>.tar.gz
#   packaging/build_linux.sh --clean    # forget PyInstaller's cache first
#
# Uses .venv (made by scripts/setup when missing) and installs there what the bundle
# needs besides the app: PyInstaller (pinned below) and the demo sandbox's pymongo and
# mongomock. The tarball holds the bundle, the desktop entry, the AppStream metainfo,
# the hicolor icons and install.sh (installs into ~/.local; see packaging/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

PYINSTALLER_VERSION=6.22.3
APP_ID=io.github.binnacle.Binnacle
PY=.venv/bin/python
clean=()
case "${1:-}" in
    "") ;;
    --clean) clean=(--clean) ;;
    *) echo "build_linux.sh: unknown option '$1' (only --clean)" >&2; exit 2 ;;
esac

start=$(date +%s)
if [ ! -x "$PY" ]; then
    scripts/setup
fi
if ! "$PY" -c "import pymongo, mongomock" 2>/dev/null; then
    "$PY" -m pip install -q -e ".[sandbox]"
fi
if [ "$("$PY" -m PyInstaller --version 2>/dev/null || true)" != "$PYINSTALLER_VERSION" ]; then
    "$PY" -m pip install -q "pyinstaller==$PYINSTALLER_VERSION"
fi

echo "== PyInstaller $PYINSTALLER_VERSION: building build/dist/binnacle"
# Known, harmless warnings are filtered out: optional GTK and xcb libraries of
# plugins that only load on desktops which have them.
set +e
"$PY" -m PyInstaller --noconfirm "${clean[@]}" --log-level WARN \
    --distpath build/dist --workpath build/pyinstaller packaging/binnacle.spec 2>&1 \
    | grep -v -E "WARNING: Library not found: could not resolve '(libgtk-3|libgdk-3|libxcb-[a-z]+)\.so"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "build_linux.sh: PyInstaller failed (exit $status)" >&2
    exit "$status"
fi
if [ ! -x build/dist/binnacle/binnacle ]; then
    echo "build_linux.sh: PyInstaller produced no build/dist/binnacle/binnacle" >&2
    exit 1
fi

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' app/__init__.py)
name="binnacle-$version-linux-$(uname -m)"
stage="build/stage/$name"
echo "== staging $name.tar.gz"
rm -rf build/stage
mkdir -p "$stage/share/applications" "$stage/share/metainfo" "$stage/share/icons/hicolor/scalable/apps"
# Hard links: no second 170 MB copy just to put the bundle under the tarball's folder.
cp -al build/dist/binnacle "$stage/binnacle" 2>/dev/null || cp -a build/dist/binnacle "$stage/binnacle"
cp packaging/linux/$APP_ID.desktop "$stage/share/applications/"
cp packaging/linux/$APP_ID.metainfo.xml "$stage/share/metainfo/"
cp -R resources/icons/hicolor/. "$stage/share/icons/hicolor/"
cp resources/icons/binnacle.svg "$stage/share/icons/hicolor/scalable/apps/$APP_ID.svg"
cp packaging/linux/install.sh "$stage/install.sh"
chmod 755 "$stage/install.sh"
cp LICENSE THIRD_PARTY_NOTICES.md "$stage/"
tar -C build/stage -czf "build/dist/$name.tar.gz" "$name"
rm -rf build/stage

echo "bundle:  build/dist/binnacle ($(du -sh build/dist/binnacle | cut -f1))"
echo "tarball: build/dist/$name.tar.gz ($(du -sh "build/dist/$name.tar.gz" | cut -f1))"
echo "build_linux.sh finished in $(( $(date +%s) - start )) s"
