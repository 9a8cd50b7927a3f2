"""The explorer: the sidebar tree of connections, databases and collections."""
