"""What a figure counts, as the noun phrase a person would print after the number.

`58 %` + `des bénéficiaires`, `1,1 million` + `d'apprentis`, `1,2 milliard €` + `pour l'embauche`,
`45,000` + `young people`. The phrase is read after the figure: an optional link (`de`, `des`, `of`),
then words up to the first verb, function word or punctuation. In French the words' classes from
`wordclass` (spaCy's tagger) tell a verb, an infinitive or a participle taking a complement from a noun
or adjective; words it gives another class, and text without classes, fall back on plural agreement (a
word after a plural noun that does not end in -s/-x is a verb: `jeunes supplémentaires puissent`).
English word order (the noun phrase ends at its plural head: `young people aged`) tells where it ends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import islice

from newsletter.extract.text import words
from newsletter.extract.wordclass import WordClass

_TOKEN = re.compile(r"[^\W\d_](?:[\w-]*[^\W_])?['’]?|\S")
_WORD_END = re.compile(r"\s")
_ELIDED = re.compile(r"^(d|l|qu|n|s|j|m|t|c)['’]$", re.IGNORECASE)
_FR_LINKS = ("de la", "de l'", "des", "du", "de", "d'")
_FR_LINK_WORDS = {"de", "des", "du", "d'", "la", "l'"}
_FR_STOP = words(
    """
    à au aux en dans par pour sur sous avec sans chez vers depuis dès pendant lors contre entre selon
    après avant parmi malgré hors jusqu via et ou mais donc ni qui que qu quoi dont où ce cet cette ces
    son sa ses leur leurs notre nos votre vos mon ma mes le la les l un une y ne se il ils elle elles on
    nous vous ils soit ainsi également aussi déjà encore plus moins très trop bien mal tout tous toute
    toutes chaque plusieurs certains certaines autres même alors puis toujours jamais désormais parfois
    ici là cela ceci contre près loin environ soit comme afin tandis lorsque puisque si non
    eux ceux celles lesquels lesquelles
    """
)
_FR_VERBS = words(
    """
    est sont était étaient sera seront serait seraient a ont avait avaient aura auront aurait auraient
    fait font peut peuvent pourra pourront doit doivent devra devront va vont vient viennent reste restent
    permet permettent représente représentent concerne concernent compte comptent
    """
)
_EN_STOP = words(
    """
    in for by with on at to since who which that whose have has had were was are is and or but will would
    from into over under after before per each this these those their its his her as than it be been being
    not also already more less a an the can could may might must should do does did across within between
    during through against among about around up down out off last next this year years so while when where
    them whom they us we you i until unless because although though if whether
    """
)
_EN_COMPARATIVES = words("more fewer less")
_EN_PLURALS = words("people children men women staff police cattle personnel")
_FR_ADJECTIVE_ENDINGS = (
    "al", "ale", "el", "elle", "if", "ive", "ique", "aire", "eux", "euse", "é", "ée", "ien", "ienne", "ais",
    "aise", "ois", "oise", "ier", "ière", "ible", "able", "ain", "aine", "eur", "eure", "ial", "iale", "in", "ine",
)  # fmt: skip
_FUNDING_NOUNS = words(
    """
    budget enveloppe investissement fonds aide aides prime primes subvention subventions dotation financement
    crédits bourse allocation indemnité amende budget fund funding investment grant package programme bonus
    subsidy cost
    """
)
_NOUN_LINKS = words("et aux pour")
_PURPOSE = {"fr": ("pour", "par"), "en": ("for", "per", "of", "in")}
# `£5m in total`, `in real terms`: no purpose after `in`
_EN_NOT_IN_PURPOSE = words("total terms all cash")
# `par an`, `par rapport`: a rate or a locution, not what an amount is for
_NOT_PURPOSE = words("an année mois jour semaine heure trimestre rapport")
# a participle before one of these takes a complement the phrase would cut: `personnes inscrites sur`
_PARTICIPLE_COMPLEMENTS = words("sur dans auprès")
_PARTICIPLE_ENDINGS = ("é", "ée", "és", "ées", "it", "ite", "its", "ites", "is", "ise", "ises", "u", "ue", "us", "ues")
# endings of infinitives and conjugated forms (`signer`, `occupaient`, `puissent`): the tagger may read a verb
# (`-re` only where nouns rarely end so: `prendre`, `mettre`, `être`, `produire`; `-ons` is mostly `-ions` nouns)
_VERB_ENDINGS = (
    "er", "ir", "oir", "dre", "ttre", "être", "ître", "ire", "faire", "vre", "ent", "ont", "ait", "ais", "aient",
    "ez", "ra", "rai", "iez", "it", "ut",
)  # fmt: skip
# words after a participle that may open its complement (`touchés par`, `commandées à`), as the tagger reads
# adverbs and prepositions the stop list leaves out: the tagger never reads them as nouns, adjectives or verbs,
# so where one ends a phrase the rules decide (`320 entreprises autour de`)
_FR_FUNCTION_WORDS = words(
    """
    autour auprès grâce face notamment voire surtout seulement uniquement ensemble actuellement aujourd hier
    demain cependant pourtant enfin respectivement environ dont davantage beaucoup
    """
)
_COMPLEMENT_OPENERS = words("sur dans auprès par à au aux en de des du d pour avec chez depuis")
MAX_TOKENS = 7


class _Token(str):
    """A word or mark after a figure, with its word class when the French tagger gave one."""

    word_class: WordClass | None = None


def figure_phrase(
    text: str,
    start: int,
    end: int,
    kind: str,
    value: float,
    language: str,
    classes: Mapping[int, WordClass] | None = None,
) -> str | None:
    """The phrase printed after the figure's displayed number, or None when the text names nothing counted;
    `classes` (word offset -> class, from `wordclass`) decides nouns from verbs where given."""
    if kind == "duration":
        return None
    tokens = _tokens(text, end, classes or {})
    french = language != "en"
    spelled = bool(re.search(r"[^\W\d_]{2,}", text[start:end]))  # `1,1 million`, not `1 100 000`
    phrase = _french_phrase(tokens, kind, value, spelled) if french else _english_phrase(tokens, kind)
    if phrase is None and kind == "money":
        phrase = _funding_noun_before(text, start, french)
    return phrase


def ratio_phrase(noun: str, language: str) -> str | None:
    """`un jeune sur cinq` -> `des jeunes`, `one in four children` -> `of children`: the share's group."""
    if not noun or not noun[:1].isalpha() or noun.lower() in _EN_STOP | _FR_STOP:
        return None
    if language == "en":
        return f"of {noun}"
    return f"des {_french_plural(noun)}"


def group_after(text: str, end: int, language: str) -> str | None:
    """The group a bare share is of, read after it: `1 in 5 of early childhood educators` -> `of early
    childhood educators`, `one in four patients` -> `of patients`, `1 in 4 of them` -> None."""
    tokens = _tokens(text, end, {})
    if tokens and tokens[0].lower() in {"of", "de", "des", "du", "d'"}:
        return figure_phrase(text, end, end, "percent", 0.0, language)
    if language == "en":
        return ratio_phrase(_english_noun_phrase(tokens) or "", language)
    return ratio_phrase(tokens[0] if tokens else "", language)


def phrase_window(text: str, end: int, length: int = 120) -> int:
    """Where the text a figure's phrase is read from ends: the line's end, or the end of the word `length`
    characters on (a cut word would mislead the tagger)."""
    newline = text.find("\n", end, end + length)
    if newline != -1:
        return newline
    word_end = _WORD_END.search(text, min(len(text), end + length))
    return word_end.start() if word_end else len(text)


def _tokens(text: str, end: int, classes: Mapping[int, WordClass]) -> list[_Token]:
    """Words and marks after `end`, on the same line, elided articles split off (`d'`, `l'`)."""
    window = text[end : phrase_window(text, end)]
    tokens = []
    for found in islice(_TOKEN.finditer(window), MAX_TOKENS * 2):
        word = found.group(0).replace("’", "'")
        if word.endswith("'") and not _ELIDED.match(word):
            word = word[:-1]
        token = _Token(word)
        token.word_class = classes.get(end + found.start())
        tokens.append(token)
    return tokens


def _french_phrase(tokens: list[str], kind: str, value: float, spelled: bool) -> str | None:
    """A French phrase: link as the display needs it, then a noun phrase with its complements."""
    link, rest = _french_link(tokens)
    if kind == "money":
        return _purpose(tokens, "fr")
    if kind == "percent" and link is None and _tagged_plural_noun(tokens):
        link = "des"  # `58 % bénéficiaires occupaient` -> `58 % des bénéficiaires`
    if kind in {"percent", "other"} and link is None:
        return None
    if kind == "count" and link not in {None, "des"} and abs(value) < 1e6:
        return None
    noun = _french_noun_phrase(rest)
    if noun is None:
        return None
    if kind == "count" and abs(value) >= 1e6 and spelled and link != "des":
        link = "d'" if noun[:1].lower() in "aeiouéèêhâîôy" else "de"
    return _join(link, noun)


def rules_unsure(text: str, end: int, phrase: str | None) -> bool:
    """Whether the tagger might end a French phrase the rules found (or None) elsewhere: a word in it may be
    a verb (`de signer`) or a participle opening a complement (`doses commandées par`), or the word where the
    rules stopped may be an adjective or participle (`population adulte`). Only these spans need tagging."""
    tokens = _tokens(text, end, {})
    taken = _words_from_text(tokens, phrase)
    for index, token in enumerate(tokens[: taken + 1]):
        lowered = token.lower()
        if not lowered[:1].isalpha() or lowered in _FR_STOP or lowered in _FR_VERBS or lowered in _FR_LINK_WORDS:
            continue
        following = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
        participle = lowered.endswith(_PARTICIPLE_ENDINGS)
        verb = lowered.endswith(_VERB_ENDINGS) and not participle
        if index < taken and (verb or (participle and following in _COMPLEMENT_OPENERS)):
            return True
        if index == taken and token[:1].islower() and lowered not in _FR_FUNCTION_WORDS and (participle or not verb):
            return True
    return False


def _words_from_text(tokens: list[_Token], phrase: str | None) -> int:
    """How many of the tokens after a figure its phrase took, a link the phrase adds (`d'` + `apprentis`
    from `1,1 million apprentis`) not counted."""
    words = [word.replace("’", "'").lower() for word in _TOKEN.findall(phrase or "")]
    if words and tokens and words[0] != tokens[0].lower():
        words = words[1:]
    return len(words)


def may_name_group(text: str, end: int, kind: str) -> bool:
    """Whether a share is followed by a lowercase plural word, which may be its group without `des`
    (`58 % bénéficiaires`): only the word's class can tell."""
    tokens = _tokens(text, end, {})
    return kind == "percent" and bool(tokens) and tokens[0][:1].islower() and tokens[0][-1:] in "sx"


def _tagged_plural_noun(tokens: list[str]) -> bool:
    """Whether the first token is a lowercase plural noun, as tagged (the rules cannot tell it from a verb)."""
    word_class = getattr(tokens[0], "word_class", None) if tokens else None
    return word_class is not None and word_class.pos == "NOUN" and tokens[0][:1].islower() and tokens[0][-1:] in "sx"


def _french_link(tokens: list[str]) -> tuple[str | None, list[str]]:
    """The linking `de`/`des`/`du`/`de la`/`d'` at the start, and the tokens after it."""
    lowered = [t.lower() for t in tokens[:2]]
    for link in _FR_LINKS:
        parts = link.replace("'", "' ").split()
        if lowered[: len(parts)] == parts:
            return link, tokens[len(parts) :]
    return None, tokens


def _french_noun_phrase(tokens: list[str]) -> str | None:
    """Noun and adjectives, then up to two `de`/`des`/`du` complements; None when no noun starts it."""
    taken: list[str] = []
    plural = False
    index = 0
    while index < len(tokens) and len(taken) < MAX_TOKENS:
        token = tokens[index]
        lowered = token.lower()
        if taken and lowered in {"de", "d'", "des", "du"}:
            link, rest = _french_link(tokens[index:])
            complement = _french_words(rest[:3], False)
            if not complement or link is None:
                break
            taken += [link, *complement]
            index += len(tokens[index:]) - len(rest) + len(complement)
            plural = complement[-1][-1:] in "sxz"
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if taken and lowered == "par" and following[:1].islower() and _french_word(following, [], False):
            taken += [token, following]
            break
        if taken and token == "«":
            taken += _quoted_name(tokens[index:])
            break
        if taken and lowered in _NOUN_LINKS and _noun_after_link(following, taken, plural):
            taken.append(token)
            index += 1
            continue
        if not _french_word(token, taken, plural) or _participle_with_complement(taken, token, following):
            break
        taken.append(token)
        plural = plural or lowered[-1:] in "sxz"
        index += 1
    return _join_words(taken) if taken else None


def _noun_after_link(word: str, taken: list[str], plural: bool) -> bool:
    """Whether a noun follows `et`/`aux`/`pour` inside the phrase (`écoles et établissements`, `passages aux
    urgences`, `établissements pour personnes âgées`): tagged a noun, or by the rules a word that agrees."""
    if plural and word.lower()[-1:] not in "sxz":
        return False
    word_class = getattr(word, "word_class", None)
    if word_class is not None:
        return word_class.pos in {"NOUN", "ADJ"} and word[:1].islower()
    return bool(word) and _french_word(word, taken, plural)


def _quoted_name(tokens: list[str]) -> list[str]:
    """A programme's name in « » right after the phrase (`nouveaux « Cafés de l'emploi »`), or nothing."""
    for index, token in enumerate(tokens[: MAX_TOKENS + 1]):
        if token == "»":
            return list(tokens[: index + 1]) if index > 1 else []
    return []


def _participle_with_complement(taken: list[str], word: str, following: str) -> bool:
    """Whether `word` is a past participle opening a complement (`inscrites sur les registres`,
    `touchés par la sécheresse`), where the phrase ends before it."""
    if not taken:
        return False
    word_class = getattr(word, "word_class", None)
    if word_class is not None:
        following_class = getattr(following, "word_class", None)
        return word_class.participle and following_class is not None and following_class.pos == "ADP"
    return word.lower().endswith(_PARTICIPLE_ENDINGS) and following.lower() in _PARTICIPLE_COMPLEMENTS


def _french_words(tokens: list[str], plural: bool) -> list[str]:
    """The leading content words of a complement (`intérim`, `contrats courts`)."""
    taken: list[str] = []
    for token in tokens:
        if not _french_word(token, taken, plural):
            break
        taken.append(token)
        plural = plural or token[-1:] in "sxz"
    return taken


def _french_word(token: str, taken: list[str], plural: bool) -> bool:
    """Whether a token continues a French noun phrase: a content word that agrees (not a verb)."""
    lowered = token.lower()
    if not token[:1].isalpha() or lowered in _FR_STOP or lowered in _FR_VERBS or _ELIDED.match(lowered):
        return False
    word_class = getattr(token, "word_class", None)
    tagged = _tagged_word(token, word_class, bool(taken)) if word_class is not None else None
    if tagged is not None:
        return tagged
    if not taken:
        return True
    if not token[:1].islower():
        return False
    if plural:
        return lowered[-1:] in "sxz"
    return lowered.endswith((*_FR_ADJECTIVE_ENDINGS, "s", "x"))


def _tagged_word(token: str, word_class: WordClass, continuing: bool) -> bool | None:
    """Whether a tagged word continues a noun phrase: yes for a noun or adjective (a proper noun only first)
    or a participle (`inscrits`, `emplois créés`), never for a conjugated verb or an infinitive; None for
    other classes, which the small model gives some adjectives (`quotidiennes`): the rules decide those."""
    if continuing and not token[:1].islower():
        return False
    if word_class.pos in {"VERB", "AUX"}:
        return word_class.participle
    if word_class.pos in {"NOUN", "ADJ"} or (word_class.pos == "PROPN" and not continuing):
        return True
    return None


def _english_phrase(tokens: list[str], kind: str) -> str | None:
    """An English phrase: `of` + noun phrase for shares, premodifiers + head for counts."""
    lowered = tokens[0].lower() if tokens else ""
    if kind == "money":
        head = _english_noun_phrase(tokens)
        purpose = _purpose(tokens[len(head.split()) :] if head else tokens, "en")
        if head and purpose and purpose.startswith("for "):
            return f"{head} {purpose}"
        return head or purpose
    if kind in {"percent", "other"} or lowered == "of":
        if lowered != "of":
            return None
        rest = tokens[1:]
        article = rest[:1] if rest and rest[0].lower() == "the" else []
        noun = _english_noun_phrase(rest[len(article) :])
        return _join("of", " ".join([*article, noun])) if noun else None
    return _english_noun_phrase(tokens)


def _english_noun_phrase(tokens: list[str]) -> str | None:
    """Words up to the plural head (`young people`), or a short singular phrase before a function word."""
    taken: list[str] = []
    for index, token in enumerate(tokens[:MAX_TOKENS]):
        lowered = token.lower()
        comparative = not index and lowered in _EN_COMPARATIVES and _content_next(tokens, index)
        if not token[:1].isalpha() or (lowered in _EN_STOP and not comparative):
            break
        if taken and lowered.endswith("ed") and not _content_next(tokens, index):
            break
        taken.append(token)
        if _english_plural(lowered) and not (lowered in _EN_PLURALS and _noun_next(tokens, index)):
            break
    return " ".join(taken) if taken else None


def _content_next(tokens: list[str], index: int) -> bool:
    """Whether a lowercase content word follows `index` (`housing` in `housing units` modifies it)."""
    following = tokens[index + 1] if index + 1 < len(tokens) else ""
    return following[:1].islower() and following.lower() not in _EN_STOP


def _noun_next(tokens: list[str], index: int) -> bool:
    """Whether a plural noun follows `index` (`officers` after `police`), not a verb or a participle
    (`people work`, `people aged`)."""
    return _content_next(tokens, index) and _english_plural(tokens[index + 1])


def _english_plural(word: str) -> bool:
    """Whether an English word reads as a plural noun (the head that ends a noun phrase)."""
    lowered = word.lower()
    return lowered in _EN_PLURALS or (lowered.endswith("s") and not lowered.endswith(("ss", "us", "is")))


def _purpose(tokens: list[str], language: str) -> str | None:
    """`pour l'embauche des seniors`, `par ménage`, `for training providers`: what an amount is for."""
    if not tokens or tokens[0].lower() not in _PURPOSE[language]:
        return None
    word = tokens[0].lower()
    rest = tokens[1:]
    if language == "en":
        article = rest[:1] if rest and rest[0].lower() == "the" else []
        if word == "in" and (article or not rest or not rest[0][:1].islower() or rest[0] in _EN_NOT_IN_PURPOSE):
            return None  # `£2m in grants`, not `in the next decade`, `in London` or `in total`
        noun = _english_noun_phrase(rest[len(article) :])
        return " ".join([word, *article, noun]) if noun else None
    article, after = _french_article(rest)
    noun = _french_noun_phrase(after)
    if noun is None or (word == "par" and (article or noun.split()[0].lower() in _NOT_PURPOSE)):
        return None
    return _join(f"{word} {article}".strip() if article else word, noun)


def _french_article(tokens: list[str]) -> tuple[str, list[str]]:
    """A leading article (`la`, `l'`, `les`), and the tokens after it."""
    if tokens and tokens[0].lower() in {"la", "le", "les", "l'"}:
        return tokens[0].lower(), tokens[1:]
    return "", tokens


_NOUN_BEFORE = re.compile(
    r"([^\W\d_]+)[ \u00a0]+(?:de[ \u00a0]+|d['’]|of[ \u00a0]+)"
    r"(?:(?:up to|more than|over|about|around|nearly|almost|plus de|près de|jusqu'à|environ)[ \u00a0]+)?$",
    re.IGNORECASE
)


def _funding_noun_before(text: str, start: int, french: bool) -> str | None:
    """`une prime de 4 000 euros` -> `de prime`, `a budget of £2m` -> `budget`: the amount's own noun."""
    found = _NOUN_BEFORE.search(text, max(0, start - 40), start)
    if found is None or found.group(1).lower() not in _FUNDING_NOUNS:
        return None
    noun = found.group(1).lower()
    if not french:
        return noun
    return _join("d'" if noun[:1] in "aeiouéèêhâîôy" else "de", noun)


def _french_plural(noun: str) -> str:
    """The plural of a French noun (`jeune` -> `jeunes`, `journal` -> `journaux`)."""
    if noun.endswith(("s", "x", "z")):
        return noun
    if noun.endswith("al"):
        return noun[:-2] + "aux"
    return noun + "s"


def _join(link: str | None, noun: str) -> str:
    """`de` + `visiteurs`, `d'` + `apprentis`: a link and its noun phrase, elision kept tight."""
    if not link:
        return noun
    return f"{link}{noun}" if link.endswith("'") else f"{link} {noun}"


def _join_words(tokens: list[str]) -> str:
    """Tokens as text, with no space after an elided article (`d'intérim`)."""
    text = ""
    for token in tokens:
        text += token if text.endswith("'") or not text else f" {token}"
    return text
