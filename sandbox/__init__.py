"""A local MongoDB-compatible test and demo cluster speaking the real wire protocol."""
