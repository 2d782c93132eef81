"""Folder source: a directory tree of Markdown, text and HTML announcements."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import ClassVar

import frontmatter
import yaml
from pydantic import Field

from newsletter.core.errors import SourceError
from newsletter.core.models import RawDocument
from newsletter.sources.base import FetchState, SourceConfig

CONTENT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
}
FRONT_MATTER_KEYS = ("title", "date", "url", "tags", "lang", "id", "draft", "publish_at")
BINARY_SAMPLE = 4096


class FolderConfig(SourceConfig):
    """A folder of announcement files, searched recursively."""

    path: Path
    include: list[str] = Field(default_factory=lambda: ["**/*.md", "**/*.txt", "**/*.html"])
    exclude: list[str] = Field(default_factory=list)


class FolderSource:
    """Yields one RawDocument per matching file; front matter becomes metadata."""

    type_name: ClassVar[str] = "folder"
    Config: ClassVar[type[FolderConfig]] = FolderConfig
    complete: ClassVar[bool] = True

    def __init__(self, config: FolderConfig, base_dir: Path):
        self.config = config
        self.root = config.path if config.path.is_absolute() else (base_dir / config.path)

    def describe(self) -> str:
        """Name, kind and folder of this source."""
        return f"{self.config.name} (folder {self.root})"

    def files(self) -> list[Path]:
        """The matching files, sorted, without the exclude globs and hidden or editor files."""
        if not self.root.is_dir():
            raise SourceError(f"source {self.config.name}: folder {self.root} does not exist")
        found: set[Path] = set()
        for pattern in self.config.include:
            found.update(p for p in self.root.glob(pattern) if p.is_file())
        return sorted(
            p
            for p in found
            if p.suffix.lower() in CONTENT_TYPES
            and not _hidden(p.relative_to(self.root))
            and not self._excluded(p.relative_to(self.root).as_posix())
        )

    def _excluded(self, relative: str) -> bool:
        """Whether an exclude glob matches the relative path (`*` and `**` cross folders)."""
        return any(
            fnmatch(relative, pattern) or fnmatch(relative, pattern.removeprefix("**/"))
            for pattern in self.config.exclude
        )

    def fetch(self, state: FetchState) -> Iterator[RawDocument]:
        """Every announcement file now in the folder; an unreadable one is recorded in `state`."""
        for path in self.files():
            try:
                yield self.read(path)
            except NotText as error:
                state.skipped.append((str(path), str(error)))
            except (SourceError, OSError) as error:
                reason = error.strerror if isinstance(error, OSError) and error.strerror else error
                state.failures.append((str(path), f"{path}: {reason}"))

    def identity_of_path(self, path: Path) -> str:
        """The identity of a file that has no front-matter `id` or `url`."""
        return f"{self.config.name}:{path.relative_to(self.root).as_posix()}"

    def read(self, path: Path) -> RawDocument:
        """One file as a RawDocument, with its front matter split off for Markdown."""
        data = path.read_bytes()
        _refuse_binary(data, path)
        content_type = CONTENT_TYPES[path.suffix.lower()]
        metadata: dict[str, object] = {}
        content: str | bytes = data
        if content_type == "text/markdown" and data.lstrip().startswith(b"---"):
            metadata, content = _split_front_matter(data, path)
        identity = str(metadata.get("id") or metadata.get("url") or self.identity_of_path(path))
        return RawDocument(
            source=self.config.name,
            identity=identity,
            content=content,
            content_type=content_type,
            url=metadata.get("url") if isinstance(metadata.get("url"), str) else None,
            path=str(path),
            metadata=metadata,
        )


def _split_front_matter(data: bytes, path: Path) -> tuple[dict[str, object], str]:
    try:
        post = frontmatter.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise SourceError(f"{path}: unreadable front matter ({error})") from None
    metadata = {k: v for k, v in post.metadata.items() if k in FRONT_MATTER_KEYS}
    return metadata, post.content


def _hidden(relative: Path) -> bool:
    """Dot files and folders, and editor leftovers (`~`, `#` prefixes or `~` suffix)."""
    return any(part.startswith((".", "~", "#")) for part in relative.parts) or relative.name.endswith("~")


class NotText(SourceError):
    """A file that holds no text to announce: it is skipped, not failed."""


def _refuse_binary(data: bytes, path: Path) -> None:
    """Refuse a file that is not text in any encoding (NUL bytes in valid-looking text)."""
    sample = data[:BINARY_SAMPLE]
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotText("cannot be decoded as text (binary content)")
