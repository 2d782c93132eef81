"""`newsletter extract`: run extraction on files and print the result (no config needed)."""
