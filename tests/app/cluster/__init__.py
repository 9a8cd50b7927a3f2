"""Tests of app/cluster: health view, performance tab, connection doctor."""
