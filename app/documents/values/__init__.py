"""BSON values as the document views read, show and write them, straight from raw bytes."""
