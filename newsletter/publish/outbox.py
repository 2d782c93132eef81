"""Dry-run publisher: writes each post (text, thread, card, alt text) to the outbox folder."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

from newsletter.core.models import Post
from newsletter.publish.base import Published

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxPublisher:
    """Writes posts to `<outbox>/posts/<channel>/` instead of sending them; never fails."""

    def __init__(self, outbox_dir: Path):
        self.outbox_dir = outbox_dir

    def publish(self, post: Post, *, idempotency_key: str) -> Published:
        """Write `<key>.txt` (the post, then each thread part), `<key>.json` and the card PNGs."""
        folder = self.outbox_dir / "posts" / UNSAFE.sub("_", post.channel)
        folder.mkdir(parents=True, exist_ok=True)
        stem = UNSAFE.sub("_", idempotency_key)
        parts = [post.text, *post.thread]
        (folder / f"{stem}.txt").write_text("\n\n---\n\n".join(parts) + "\n", encoding="utf-8")
        record = asdict(post)
        record["slot"] = post.slot.isoformat() if post.slot else None
        for index, media in enumerate(post.media):
            source = Path(media.path)
            target = folder / f"{stem}-{index + 1}{source.suffix}"
            if source.resolve() != target.resolve():
                shutil.copyfile(source, target)
            record["media"][index]["path"] = target.name
        record["idempotency_key"] = idempotency_key
        (folder / f"{stem}.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        return Published(provider_id=f"outbox:{stem}", url=(folder / f"{stem}.txt").as_uri())
