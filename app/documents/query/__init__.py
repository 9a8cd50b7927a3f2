"""The Documents tab's query: the query bar, its completion and history, and one run of it."""
