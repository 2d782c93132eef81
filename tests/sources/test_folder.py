"""Folder source: files added, renamed, edited and deleted between runs, front matter, globs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.sources.base import FetchState
from newsletter.sources.folder import FolderConfig, FolderSource
from tests.fakes.ingest_env import IngestEnv

RELEASE = """---
title: {title}
date: 2025-03-{day:02d}
---
# {title}

La ministre a annoncé « un effort sans précédent » : près de {count} 000 jeunes concernés par le dispositif {title}.
"""


def write(folder: Path, name: str, title: str, day: int = 10, count: int = 900) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RELEASE.format(title=title, day=day, count=count), "utf-8")
    return path


@pytest.fixture
def folder(ingest_env: IngestEnv) -> Path:
    path = ingest_env.root / "annonces"
    path.mkdir()
    ingest_env.configure([{"name": "local", "type": "folder", "path": "annonces", "backfill": 0}])
    return path


def counts(report: object) -> tuple[int, int, int, int, int]:
    c = report.counts()  # type: ignore[attr-defined]
    return c["new"], c["updated"], c["unchanged"], c["failed"], c["withdrawn"]


def test_add_rename_edit_delete_between_runs(ingest_env: IngestEnv, folder: Path) -> None:
    write(folder, "a.md", "Alpha", 1)
    write(folder, "b.md", "Bravo", 2)
    assert counts(ingest_env.run()["local"]) == (2, 0, 0, 0, 0)

    write(folder, "sub/c.md", "Charlie", 3)
    report = ingest_env.run()["local"]
    assert counts(report) == (1, 0, 2, 0, 0)
    assert [a.title for a in report.announced] == ["Charlie"]

    (folder / "a.md").rename(folder / "archive-a.md")
    report = ingest_env.run()["local"]
    assert counts(report) == (0, 0, 3, 0, 0)
    assert report.announced == []

    write(folder, "b.md", "Bravo", 2, count=950)
    report = ingest_env.run()["local"]
    assert counts(report) == (0, 1, 2, 0, 0)
    assert report.announced == []
    store = ingest_env.open_store()
    [bravo] = [a for a in store.announcements.list_announcements() if a.title == "Bravo"]
    assert "950 000" in f"{bravo.lede} {bravo.body}"

    (folder / "sub" / "c.md").unlink()
    report = ingest_env.run()["local"]
    assert counts(report) == (0, 0, 2, 0, 1)
    assert sorted(a.title for a in store.announcements.list_announcements()) == ["Alpha", "Bravo"]
    assert len(store.announcements.list_announcements(include_inactive=True)) == 3


def test_announce_updates_re_announces_an_edited_file(ingest_env: IngestEnv, folder: Path) -> None:
    ingest_env.configure([{"name": "local", "type": "folder", "path": "annonces", "announce_updates": True}])
    write(folder, "a.md", "Alpha")
    ingest_env.run()
    write(folder, "a.md", "Alpha", count=100)
    report = ingest_env.run()["local"]
    assert report.updated == 1
    assert [a.title for a in report.announced] == ["Alpha"]


def test_front_matter_id_and_url_are_the_identity(ingest_env: IngestEnv, folder: Path) -> None:
    (folder / "x.md").write_text("---\nid: cej-bilan\ntitle: Bilan\n---\nTexte « cité ».\n", "utf-8")
    (folder / "y.md").write_text("---\nurl: https://travail.gouv.fr/cej/\ntitle: Page\n---\nTexte.\n", "utf-8")
    source = FolderSource(FolderConfig(name="local", type="folder", path=folder), folder)
    identities = sorted(d.identity for d in source.fetch(FetchState()))
    assert identities == ["cej-bilan", "https://travail.gouv.fr/cej/"]
    ingest_env.run()
    (folder / "x.md").rename(folder / "renamed-and-edited.md")
    (folder / "renamed-and-edited.md").write_text("---\nid: cej-bilan\ntitle: Bilan\n---\nAutre texte.\n", "utf-8")
    report = ingest_env.run()["local"]
    assert (report.new, report.updated) == (0, 1)


def test_drafts_are_held_back_until_published(ingest_env: IngestEnv, folder: Path) -> None:
    ingest_env.run()  # first contact with an empty folder
    (folder / "d.md").write_text("---\ntitle: Brouillon\ndraft: true\n---\nPas encore.\n", "utf-8")
    report = ingest_env.run()["local"]
    assert (report.new, report.held) == (0, 1)
    assert ingest_env.open_store().announcements.list_announcements() == []
    (folder / "d.md").write_text("---\ntitle: Brouillon\n---\nPublié.\n", "utf-8")
    report = ingest_env.run()["local"]
    assert report.new == 1 and [a.title for a in report.announced] == ["Brouillon"]


def test_publish_at_embargo_stores_without_announcing_early(ingest_env: IngestEnv, folder: Path) -> None:
    ingest_env.run()
    (folder / "e.md").write_text(
        "---\ntitle: Sous embargo\npublish_at: 2025-03-27T08:00:00+01:00\n---\nTexte.\n", "utf-8"
    )
    report = ingest_env.run(when="2025-03-25T09:00")["local"]
    assert report.new == 1 and report.announced == []
    store = ingest_env.open_store()
    since = datetime(2025, 1, 1, tzinfo=UTC)
    assert store.announcements.announced_since(since, now=datetime(2025, 3, 26, tzinfo=UTC)) == []
    later = store.announcements.announced_since(since, now=datetime(2025, 3, 28, tzinfo=UTC))
    assert [item.announcement.title for item in later] == ["Sous embargo"]


def test_include_exclude_globs_and_hidden_files(tmp_path: Path) -> None:
    for name in ("a.md", "b.txt", "c.html", "skip/d.md", "notes.rst", ".hidden.md", "sub/e.md~"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("Titre\n\nTexte.\n", "utf-8")
    config = FolderConfig(name="local", type="folder", path=tmp_path, exclude=["skip/**", "**/*.html"])
    names = [p.relative_to(tmp_path).as_posix() for p in FolderSource(config, tmp_path).files()]
    assert names == ["a.md", "b.txt"]
    only_md = FolderConfig(name="local", type="folder", path=tmp_path, include=["*.md"])
    assert [p.name for p in FolderSource(only_md, tmp_path).files()] == ["a.md"]


def test_an_unreadable_file_is_skipped_alone_and_not_withdrawn(ingest_env: IngestEnv, folder: Path) -> None:
    write(folder, "good.md", "Bon")
    write(folder, "later.md", "Plus tard")
    ingest_env.run()
    (folder / "later.md").write_bytes(b"\x00\x01\x02binary\x00" * 100)
    (folder / "bad.md").write_text("---\ntitle: [unclosed\n---\nTexte.\n", "utf-8")
    report = ingest_env.run()["local"]
    assert (report.failed, report.skipped, report.withdrawn, report.unchanged) == (1, 1, 0, 1)
    assert any("later.md" in e and "cannot be decoded" in e for e in report.skips)
    assert any("bad.md" in e and "front matter" in e for e in report.errors)
    assert len(ingest_env.open_store().announcements.list_announcements()) == 2


def test_a_missing_folder_fails_the_source(ingest_env: IngestEnv) -> None:
    ingest_env.configure([{"name": "local", "type": "folder", "path": "nowhere"}])
    report = ingest_env.run()["local"]
    assert report.failed == 1 and "does not exist" in report.errors[0]
