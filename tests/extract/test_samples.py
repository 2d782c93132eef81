"""Conformance on the team's real samples in ../shared/samples (skipped on a fresh clone)."""

from __future__ import annotations

from newsletter.extract import extract, read_path


def test_real_samples(shared_dir):
    samples = sorted((shared_dir / "samples").glob("*.txt"))
    assert len(samples) >= 2
    by_name = {path.name[:3]: extract(read_path(str(path))) for path in samples}
    first, second = by_name["000"], by_name["002"]
    assert [(q.speaker, q.role) for q in first.quotes] == [
        ("Catherine Vautrin", "ministre du Travail, de la Santé, des Solidarités et des Familles"),
        ("Astrid Panosyan-Bouvet", "ministre chargée du Travail et de l'Emploi"),
    ]
    assert {(f.value, f.kind) for f in first.figures} == {
        (1e6, "count"),
        (900000, "count"),
        (7.4, "percent"),
        (4e6, "count"),
    }
    assert [q.speaker for q in second.quotes] == [None, "Fabrice Masi", "Thierry Marty", "Gilles Lafon"]
    assert second.acronyms["UNML"] == "Union nationale des Missions locales"
    assert "UNML[" not in second.body and "UNML, Akto" in second.body
    assert sorted(f.value for f in second.figures) == [3, 10, 10, 100, 125000, 360000]
    assert str(second.published) == "2025-02-24" and str(first.published) == "2025-03-24"
