"""Import and export: JSON, JSON lines, CSV and whole-database archives, with their dialogs."""
