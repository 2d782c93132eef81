from __future__ import annotations

import subprocess
import sys

from newsletter.extract.wordclass import WordClass, french_word_classes


def classes_by_word(text: str, spans: list[tuple[int, int]]) -> dict[str, WordClass]:
    found = french_word_classes(text, spans)
    return {text[offset:].split()[0].strip(".,"): word_class for offset, word_class in found.items()}


def test_french_words_are_told_apart_as_nouns_verbs_and_participles() -> None:
    text = "Cette année, 50 000 jeunes supplémentaires puissent passer le permis, et 300 familles touchées par la crue."
    classes = classes_by_word(text, [(0, len(text))])
    assert classes["jeunes"].pos == "NOUN"
    assert classes["puissent"].pos in {"VERB", "AUX"} and not classes["puissent"].participle
    assert classes["passer"].pos == "VERB" and not classes["passer"].participle
    assert classes["touchées"].participle


def test_only_the_given_spans_are_tagged_and_offsets_point_into_the_whole_text() -> None:
    text = "Premier paragraphe sans chiffre.\nIls ont ouvert 12 nouvelles classes cette année.\nFin."
    start = text.index("12")
    classes = french_word_classes(text, [(start, start + 20), (start + 3, text.index("cette") + 5)])
    words = {text[offset : offset + 8] for offset in classes}
    assert "nouvelle" in words and "classes " in words
    assert all(start <= offset < text.index("Fin") for offset in classes)
    assert classes[text.index("classes")].pos == "NOUN"


def test_nothing_to_tag_gives_nothing() -> None:
    assert french_word_classes("Aucun chiffre ici.", []) == {}


def test_a_document_whose_phrases_the_rules_settle_never_loads_the_tagger() -> None:
    script = (
        "import sys\n"
        "from newsletter.core.models import RawDocument\n"
        "from newsletter.extract import extract, wordclass\n"
        "def phrases(text):\n"
        "    found = extract(RawDocument('t', text[:9], text.encode(), 'text/markdown'))\n"
        "    return [figure.about for figure in found.figures]\n"
        "print(phrases('# Bilan\\n\\nLe salon a accueilli 9 500 visiteurs et 320 exposants.'))\n"
        "print(wordclass.model_loaded(), 'spacy' in sys.modules)\n"
        "print(phrases('# Permis\\n\\nSelon une enquête, 58 % bénéficiaires occupaient un emploi.'))\n"
        "print(wordclass.model_loaded())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines() == [
        "['visiteurs', 'exposants']",
        "False False",
        "['des bénéficiaires']",
        "True",
    ]
