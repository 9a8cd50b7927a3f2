"""Editing documents: conflict-safe edits, the editors and dialogs, the page's writes."""
