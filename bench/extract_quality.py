"""Extraction quality on the hand-labelled set in bench/labelled: quote and figure precision/recall.

Run: /work/venv/bin/python bench/extract_quality.py [FOLDER...] [-v] [--rules]
--rules scores the hand-written phrase rules alone (as without spaCy's French tagger), to compare the two.
bench/labelled_speakers holds interviews, back-references and feed items (used to tune speakers);
bench/labelled_speakers_unseen was written after that tuning and never tuned on; neither was
bench/labelled_unseen_phrases (32 French and English documents, every figure's phrase labelled), written
before the French tagger was added.
Each FOLDER holds documents and their labels.json (default bench/labelled; bench/labelled_holdout is held out);
each folder given is scored and reported on its own.
A quote counts as correct when its text starts like the labelled one and the speaker is the same
(None for a document or organisation); a figure when its value and kind match a labelled one.
A figure labelled `[value, kind, about]` also has its phrase judged: grammatical when the phrase printed
after the number equals the labelled one (a string, a list of acceptable strings, or null for "no phrase a
person would write", in which case the figure must carry none and is never a headline).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import unicodedata
from pathlib import Path

from newsletter.extract import extract, figures, read_path, wordclass

LABELLED = Path(__file__).resolve().parent / "labelled"


def normalise(text: str) -> str:
    """Lowercase text without accents, punctuation or extra spaces, for prefix comparison."""
    text = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in text if ch.isalnum() or ch.isspace())
    return " ".join(kept.split())


def quote_matches(label: list, quote: dict) -> bool:
    """Same speaker and the quote text starts like the labelled text."""
    return normalise(quote["text"]).startswith(normalise(label[1])) and quote["speaker"] == label[0]


def figure_matches(label: list, figure: dict) -> bool:
    """Same kind and the same value."""
    return figure["kind"] == label[1] and math.isclose(figure["value"], label[0], rel_tol=1e-9)


def phrase_matches(label: list, figure: dict) -> bool:
    """The figure's phrase is the labelled one (or one of them; null means no phrase)."""
    accepted = label[2] if isinstance(label[2], list) else [label[2]]
    about = figure["about"]
    return any((about is None) if want is None else (about is not None and normalise(about) == normalise(want))
               for want in accepted)


def figure_phrases(labels: list, found: list) -> tuple[int, int, list]:
    """(grammatical phrases, figures judged, wrong phrases) over found figures matched to an `about` label."""
    remaining = list(found)
    good, judged, wrong = 0, 0, []
    for label in labels:
        hit = next((item for item in remaining if figure_matches(label, item)), None)
        if hit is None:
            continue
        remaining.remove(hit)
        if len(label) < 3:
            continue
        judged += 1
        if phrase_matches(label, hit):
            good += 1
        else:
            wrong.append((hit["raw"], hit["about"], label[2]))
    return good, judged, wrong


def score(labels: list, found: list, matches) -> tuple[int, int, list, list]:
    """Greedy one-to-one matching: (true positives, misses, false positives)."""
    remaining = list(found)
    missed = []
    for label in labels:
        hit = next((item for item in remaining if matches(label, item)), None)
        if hit is None:
            missed.append(label)
        else:
            remaining.remove(hit)
    return len(labels) - len(missed), len(labels), missed, remaining


def speaker_counts(labels: list, found: list) -> list[int]:
    """Match quotes by text alone: [text matches, right speaker, given a speaker, given the right one]."""
    remaining = list(found)
    counts = [0, 0, 0, 0]
    for speaker, text in labels:
        hit = next((q for q in remaining if normalise(q["text"]).startswith(normalise(text))), None)
        if hit is None:
            continue
        remaining.remove(hit)
        right = hit["speaker"] == speaker
        counts[0] += 1
        counts[1] += right
        counts[2] += hit["speaker"] is not None
        counts[3] += right and hit["speaker"] is not None
    return counts


def print_speakers(counts: list[int], gold: int) -> None:
    """Quote recall on text alone, speaker-correct recall and speaker precision."""
    found, right, given, given_right = counts
    precision = given_right / given if given else 1.0
    print(
        f"speakers quote recall {found / gold if gold else 1.0:.3f}  speaker-correct recall "
        f"{right / gold if gold else 1.0:.3f}  speaker precision {precision:.3f}  ({given} attributed)"
    )


def main() -> None:
    """Score every folder given (default bench/labelled), printing its figures."""
    logging.disable(logging.WARNING)
    verbose = "-v" in sys.argv
    if "--rules" in sys.argv:
        wordclass.french_word_classes = lambda text, spans: {}
        figures.french_word_classes = wordclass.french_word_classes
    folders = [Path(arg) for arg in sys.argv[1:] if not arg.startswith("-")] or [LABELLED]
    missing = [str(folder) for folder in folders if not (folder / "labels.json").is_file()]
    if missing:
        sys.exit(f"no labels.json in: {', '.join(missing)}")
    for folder in folders:
        score_folder(folder, verbose)


def score_folder(folder: Path, verbose: bool) -> None:
    """Print per-document errors (with `verbose`) and the four figures of one labelled folder."""
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    totals = {"quotes": [0, 0, 0], "figures": [0, 0, 0]}
    phrases = [0, 0]
    speakers = [0, 0, 0, 0]
    for name, expected in sorted(labels.items()):
        announcement = extract(read_path(str(folder / name)))
        found = {
            "quotes": [{"speaker": q.speaker, "text": q.text} for q in announcement.quotes],
            "figures": [
                {"value": f.value, "kind": f.kind, "raw": f.raw, "about": f.about} for f in announcement.figures
            ],
        }
        speakers = [a + b for a, b in zip(speakers, speaker_counts(expected["quotes"], found["quotes"]), strict=True)]
        for key, matches in (("quotes", quote_matches), ("figures", figure_matches)):
            hits, gold, missed, extra = score(expected[key], found[key], matches)
            totals[key][0] += hits
            totals[key][1] += gold
            totals[key][2] += len(found[key])
            if verbose and (missed or extra):
                print(f"{name} {key}: missed {missed} extra {extra}")
        good, judged, wrong = figure_phrases(expected["figures"], found["figures"])
        phrases = [phrases[0] + good, phrases[1] + judged]
        if verbose and wrong:
            print(f"{name} phrases (raw, found, labelled): {wrong}")
    print(f"{len(labels)} labelled documents in {folder}")
    for key, (hits, gold, predicted) in totals.items():
        precision = hits / predicted if predicted else 1.0
        recall = hits / gold if gold else 1.0
        counts = f"{hits} correct, {gold} labelled, {predicted} found"
        print(f"{key:<8} precision {precision:.3f}  recall {recall:.3f}  ({counts})")
    print(phrase_line(*phrases))
    print_speakers(speakers, totals["quotes"][1])


def phrase_line(good: int, judged: int) -> str:
    """The grammatical-figure-phrase share, or a note that the set has no `about` labels."""
    if not judged:
        return "grammatical figure phrases: n/a (no [value, kind, about] labels)"
    return f"grammatical figure phrases {good / judged:.1%}  ({good} of {judged} found figures with an about label)"


if __name__ == "__main__":
    main()
