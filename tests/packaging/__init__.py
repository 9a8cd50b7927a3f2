"""Tests of packaging/ (desktop entry, metainfo, icons, PyInstaller spec, install.sh) and app/logs.py."""
