"""Route modules of the web app, one per page or group of pages; each exposes `routes`."""
