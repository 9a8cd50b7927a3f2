"""Connecting: the connection dialog (form ⇄ URI through ``driver.connection_string.uri``), the favorites
and recents store, secrets kept out of that store, and favorites import/export."""
