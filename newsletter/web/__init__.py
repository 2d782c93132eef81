"""The review web app (`newsletter serve`): upcoming sends, approval and edits, history, archive,
and the public subscriber pages (unsubscribe, double opt-in subscribe)."""
