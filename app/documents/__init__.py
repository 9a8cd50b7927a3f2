"""The Documents tab: browse, query, edit, import and export one collection's documents.

``collection_page`` assembles the tab; ``query/`` is the query bar and one run of it;
``views/`` the list, table and JSON views over lazy models fed by raw batches;
``values/`` how BSON values are read, shown and written from their bytes; ``editing/``
conflict-safe edits and their dialogs; ``transfer/`` import, export and archives.
The shell syntax itself is ``app.shell_syntax``, shared with the other tabs.

Nothing here imports the driver's network layer; the models get their batches through an
injected source and the transfer jobs through injected callables, so every piece can be
tested with real BSON bytes and no server.
"""
