"""Small shared widgets: live charts."""
