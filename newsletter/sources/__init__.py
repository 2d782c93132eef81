"""Sources: where announcements come from (one module per kind, see registry.py)."""
