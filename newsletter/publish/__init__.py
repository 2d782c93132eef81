"""Publishers: where messages and posts go (one module per service, see registry.py)."""
