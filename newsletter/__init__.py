"""newsletter: public-programme announcements to email digests and social posts."""

__version__ = "0.1.0"
