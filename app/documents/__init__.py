"""Documents: the shell-syntax parser, the document models over raw batches, import/export.

Nothing here imports the driver's network layer; the models get their batches through an
injected source and the transfer jobs through injected callables, so every piece can be
tested with real BSON bytes and no server.
"""
