#!/bin/sh
# Installs Binnacle from this unpacked tarball for the current user, or removes it.
#
#   ./install.sh               # into ~/.local (no root needed)
#   PREFIX=/opt/x ./install.sh # elsewhere (then $PREFIX/bin must be on PATH)
#   ./install.sh --uninstall   # removes exactly what install.sh put there
#
# Layout under $PREFIX: lib/binnacle/ (the bundle), bin/binnacle (a symlink),
# share/applications/<id>.desktop (Exec= rewritten to the bundle's absolute path, so
# the menu entry works even where ~/.local/bin is not on the desktop's PATH),
# share/icons/hicolor/*/apps/<id>.png|svg and share/metainfo/<id>.metainfo.xml.
set -eu

APP_ID=io.github.binnacle.Binnacle
PREFIX="${PREFIX:-$HOME/.local}"
HERE=$(cd "$(dirname "$0")" && pwd)
LIBDIR="$PREFIX/lib/binnacle"
BINLINK="$PREFIX/bin/binnacle"
DESKTOP="$PREFIX/share/applications/$APP_ID.desktop"
METAINFO="$PREFIX/share/metainfo/$APP_ID.metainfo.xml"
ICONROOT="$PREFIX/share/icons/hicolor"

refresh_caches() {
    # Both tools are optional: desktops rescan these folders on their own, sooner or later.
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$PREFIX/share/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$ICONROOT/index.theme" ]; then
        gtk-update-icon-cache -q -t "$ICONROOT" 2>/dev/null || true
    fi
}

uninstall() {
    if [ -L "$BINLINK" ]; then rm -f "$BINLINK"; fi
    if [ -x "$LIBDIR/binnacle" ]; then rm -rf "$LIBDIR"; fi
    rm -f "$DESKTOP" "$METAINFO"
    for icon in "$ICONROOT"/*/apps/"$APP_ID".png "$ICONROOT"/*/apps/"$APP_ID".svg; do
        if [ -f "$icon" ]; then rm -f "$icon"; fi
    done
    refresh_caches
    echo "Binnacle removed from $PREFIX"
}

install_all() {
    if [ ! -x "$HERE/binnacle/binnacle" ]; then
        echo "install.sh: no bundle at $HERE/binnacle/binnacle; run me from the unpacked tarball" >&2
        exit 1
    fi
    mkdir -p "$PREFIX/lib" "$PREFIX/bin" "$PREFIX/share/applications" "$PREFIX/share/metainfo"
    # Copy beside, then swap: a failed copy leaves the previous install working.
    rm -rf "$LIBDIR.new"
    cp -R "$HERE/binnacle" "$LIBDIR.new"
    rm -rf "$LIBDIR"
    mv "$LIBDIR.new" "$LIBDIR"
    ln -sfn "$LIBDIR/binnacle" "$BINLINK"

    # Exec= needs quotes when the path has spaces (Desktop Entry spec, "The Exec key").
    case "$LIBDIR" in
        *" "*) exec_value="\"$LIBDIR/binnacle\"" ;;
        *) exec_value="$LIBDIR/binnacle" ;;
    esac
    sed -e "s|^Exec=.*|Exec=$exec_value|" -e "s|^TryExec=.*|TryExec=$LIBDIR/binnacle|" \
        "$HERE/share/applications/$APP_ID.desktop" > "$DESKTOP"
    cp "$HERE/share/metainfo/$APP_ID.metainfo.xml" "$METAINFO"
    for folder in "$HERE"/share/icons/hicolor/*/apps; do
        size=$(basename "$(dirname "$folder")")
        mkdir -p "$ICONROOT/$size/apps"
        cp "$folder"/* "$ICONROOT/$size/apps/"
    done
    refresh_caches
    echo "Binnacle installed in $LIBDIR"
    echo "  menu entry: $DESKTOP"
    case ":$PATH:" in
        *":$PREFIX/bin:"*) echo "  command:    binnacle" ;;
        *) echo "  command:    $BINLINK (add $PREFIX/bin to PATH to type just 'binnacle')" ;;
    esac
}

case "${1:-}" in
    "") install_all ;;
    --uninstall) uninstall ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "install.sh: unknown option '$1' (use --uninstall or --help)" >&2; exit 2 ;;
esac
