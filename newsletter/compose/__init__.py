"""Composers: digests and social posts built from announcements and templates."""
