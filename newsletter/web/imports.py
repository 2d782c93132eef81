"""Subscriber CSV imports started from the review app: each runs after the upload is answered,
through the same use-case as `newsletter subscribers import`, and records its progress here for
the import page to show (rows done out of the file's rows, then the report)."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from newsletter.core.errors import NewsletterError
from newsletter.pipeline.subscribers import ImportReport, count_rows, import_csv
from newsletter.store import Store

log = logging.getLogger(__name__)
KEPT_IMPORTS = 50

@dataclass
class ImportProgress:
    """One import: the file's name as uploaded, who started it, rows done, then its report or error."""

    id: str
    file_name: str
    started_by: str
    total: int
    done: int = 0
    report: ImportReport | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the import ended (with a report or an error)."""
        return self.report is not None or self.error is not None

    @property
    def percent(self) -> int:
        """How far it went, in percent of the file's rows."""
        if self.finished:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0


@dataclass
class ImportBoard:
    """The imports this web process started (the latest `KEPT_IMPORTS`), by unguessable id."""

    _imports: dict[str, ImportProgress] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, file_name: str, path: Path, started_by: str) -> ImportProgress:
        """Record a new import of the file at `path`, not yet run."""
        progress = ImportProgress(secrets.token_urlsafe(12), file_name, started_by, count_rows(path))
        with self._lock:
            self._imports[progress.id] = progress
            for old in list(self._imports)[:-KEPT_IMPORTS]:
                del self._imports[old]
        return progress

    def get(self, import_id: str) -> ImportProgress | None:
        """The import with this id, if this process started it."""
        with self._lock:
            return self._imports.get(import_id)


def run_import(store: Store, progress: ImportProgress, path: Path, *, now: datetime, list_name: str | None) -> None:
    """Import the uploaded file, updating `progress` after each batch, then delete the upload."""
    try:
        progress.report = import_csv(
            store, path, now=now, list_name=list_name, consent_source=f"import:{progress.file_name}",
            progress=lambda done: setattr(progress, "done", done), actor=progress.started_by,
        )
    except NewsletterError as error:
        progress.error = str(error).replace(str(path), progress.file_name)
    except Exception as error:  # the page must end even when the store fails; the log has the details
        log.exception("import of %s failed", progress.file_name)
        progress.error = f"{progress.file_name}: the import stopped ({type(error).__name__}); see the server log"
    finally:
        path.unlink(missing_ok=True)
