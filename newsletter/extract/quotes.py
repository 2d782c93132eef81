"""Quotations: pair quotation marks, tell speech from quoted names, and find who said it."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from newsletter.core.models import Quote
from newsletter.extract import confidence, people, speakers
from newsletter.extract.text import words

_MARK = re.compile('[«»“”"]')
_CLOSER_OF = {"«": "»", "“": "”", '"': '"', "”": "”"}
_MAX_CARRY = 4
_WINDOW = 400
_SENTENCE_END = re.compile(r"(?<!\b[A-Z])[.!?…]+\s+")
_SENTENCE_END_AFTER = re.compile(r"(?<!\b[A-Z])[.!?…]+(?=\s|$)")
_TERMINAL = re.compile(r"[.!?…]\W*$")
_SET_OFF = re.compile(r"[,:][\s\u00a0*_]*$")
_SOURCE_BEFORE = re.compile(r"(?<![\w])(?:selon|d['’]après|according to)\s", re.IGNORECASE)
_NAMING_WORDS = words(
    """
    dispositif dispositifs programme programmes program programs plan plans opération opérations
    operation operations campagne campagnes campaign campaigns label labels événement événements
    évènement évènements event events chaîne chaînes channel channels émission émissions show shows
    concours prix award awards trophée trophées journée journées semaine semaines week weeks salon
    salons forum forums festival festivals rapport rapports report reports plateforme plateformes
    platform platforms site sites application applications appli applis app apps réseau réseaux
    network networks marque marques brand brands slogan slogans thème thèmes theme themes intitulé
    intitulée intitulés intitulées baptisé baptisée baptisés baptisées nommé nommée nommés nommées
    dénommé dénommée appelé appelée appelés appelées called named entitled titled dubbed branded
    scheme schemes initiative initiatives projet projets project projects hashtag hashtags fonds
    fund funds stratégie stratégies strategy strategies pacte pactes pact pacts charte chartes
    charter charters loi lois law laws act acts bill bills guide guides démarche démarches parcours
    pass contrat contrats devise devises motto mottos rubrique rubriques section sections livre
    livres book books film films série séries series podcast podcasts exposition expositions
    exhibition exhibitions conférence conférences conference conferences colloque colloques
    rencontre rencontres sommet sommets summit summits mission missions cérémonie cérémonies
    ceremony ceremonies mention titre title nom name as appel appels
    """
)


_ANY_WORD_CHAR = re.compile(r"\w")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_TAIL_SPLIT = re.compile(r"[\s'’]+")
_CLAUSE_PUNCTUATION = re.compile(r"[.!?;:]")


@dataclass
class QuoteSpan:
    """A pair of quotation marks: positions of the opening and closing marks."""

    open: int
    close: int
    skips: list[int] = field(default_factory=list)


@dataclass
class _Open:
    char: str
    pos: int
    children: list[int] = field(default_factory=list)
    skips: list[int] = field(default_factory=list)


@dataclass
class QuotedText:
    """What was found in quotation marks: speech (quotes) and quoted names (programmes, titles)."""

    quotes: list[Quote] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    name_spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class _Attribution:
    speaker: str | None
    role: str | None
    score: float = confidence.NAMED


def _scored(attribution: _Attribution | None, score: float) -> _Attribution | None:
    """The attribution with at most `score` confidence (a speaker found indirectly)."""
    if attribution is not None and attribution.speaker:
        attribution.score = min(attribution.score, score)
    return attribution


def find_quotes(text: str, warnings: list[str], title: str = "") -> QuotedText:
    """Find every quotation in clean text (paragraphs separated by blank lines); `title` helps
    tell whom an interview is with."""
    paragraphs = _paragraph_starts(text)
    spans = pair_quotation_marks(text, paragraphs, warnings)
    found = QuotedText()
    if not spans:
        return found
    resolver = _Resolver(text, paragraphs, spans)
    interviewed = speakers.interviewee(text, paragraphs, title)
    previous: tuple[int, Quote] | None = None
    for index, span in enumerate(spans):
        inner = _inner_text(text, span)
        if not _ANY_WORD_CHAR.search(inner):
            continue
        resolver.quote_open = span.open
        lo = _clause_start(text, span.open, spans[index - 1].close + 1 if index else 0, paragraphs)
        hi = _clause_end(
            text, span.close + 1, spans[index + 1].open if index + 1 < len(spans) else len(text), paragraphs
        )
        if lo == span.open:
            lo = _introducing_clause(text, lo, paragraphs, spans[index - 1].close + 1 if index else 0)
        before, after = text[lo : span.open], text[span.close + 1 : hi]
        named = _follows_naming_word(before) and len(inner.split()) <= 12 and not _clause_after_source(before, inner)
        attribution = None
        if not named:
            attribution = (
                resolver.after(span.close + 1, after)
                or resolver.before(lo, before)
                or resolver.incise(span.open, inner)
            )
        if attribution is None and (named or _looks_like_title(inner)):
            found.names.append(inner)
            found.name_spans.append((span.open, span.close))
            continue
        if attribution is None:
            attribution = (
                _scored(_answer(text, paragraphs, span, interviewed), confidence.INTERVIEWEE)
                or _scored(_inherit(previous, paragraphs, span.open, inner), confidence.CARRIED)
                or _scored(_coordinated(text, previous, span.open, before), confidence.CARRIED)
                or _scored(resolver.beside(span), confidence.NEARBY)
            )
        if attribution is None:
            if not _is_full_sentence(inner):
                continue
            attribution = _Attribution(None, None)
        if attribution.speaker is None and _is_term(inner):
            continue
        score = attribution.score if attribution.speaker else confidence.NO_SPEAKER
        quote = Quote(text=inner, speaker=attribution.speaker, role=attribution.role, score=score)
        resolver.remember(quote)
        found.quotes.append(quote)
        found.spans.append((span.open, span.close))
        previous = (span.close, quote)
    speakers.one_spelling(found.quotes, [m.name for m in resolver.mentions])
    return found


def _answer(text: str, paragraphs: list[int], span: QuoteSpan, interviewed: str | None) -> _Attribution | None:
    """In an interview, a quote filling its paragraph is the interviewee's answer."""
    if interviewed is None or not speakers.is_answer(text, paragraphs, span.open, span.close):
        return None
    return _Attribution(interviewed, None)


def _is_term(inner: str) -> bool:
    """One or two quoted words that nobody is said to say (`le niveau « élevé »`): a term, not a quote."""
    return len(inner.split()) <= 2 and not _TERMINAL.search(inner)


def _paragraph_starts(text: str) -> list[int]:
    """Offsets where each paragraph starts."""
    return [0] + [match.end() for match in _PARAGRAPH_BREAK.finditer(text)]


def pair_quotation_marks(text: str, paragraphs: list[int], warnings: list[str]) -> list[QuoteSpan]:
    """Pair quotation marks into top-level spans, across paragraphs when a quote goes on."""
    stack: list[_Open] = []
    spans: list[QuoteSpan] = []
    nested: dict[int, QuoteSpan] = {}
    top: list[int] = []
    current = 0
    unbalanced = 0
    for match in _MARK.finditer(text):
        pos, char = match.start(), match.group(0)
        paragraph = bisect.bisect_right(paragraphs, pos) - 1
        if paragraph != current:
            if stack and not _carries(text, paragraphs, stack[0], current, paragraph):
                unbalanced += 1
                _drop(stack, top, nested)
            current = paragraph
            if stack and _is_continuation(text, paragraphs[paragraph], pos, char, stack[0]):
                stack[0].skips.append(pos)
                continue
        if not _close(stack, char, pos, nested, top, spans):
            stack.append(_Open(char, pos))
    if stack:
        unbalanced += 1
        _drop(stack, top, nested)
    if unbalanced:
        warnings.append(f"{unbalanced} unbalanced quotation mark(s) ignored")
    return sorted((nested[pos] for pos in set(top)), key=lambda span: span.open)


def _close(
    stack: list[_Open],
    char: str,
    pos: int,
    nested: dict[int, QuoteSpan],
    top: list[int],
    spans: list[QuoteSpan],
) -> bool:
    """Close the matching open mark if `char` is a closer for one; tell whether it was."""
    if char == "«":
        return False
    wanted = {"»": ("«",), "”": ("“", "”"), '"': ('"',), "“": ()}[char]
    if not wanted:
        return False
    depth = next((i for i in range(len(stack) - 1, -1, -1) if stack[i].char in wanted), None)
    if depth is None:
        return char == "»"
    if char == '"' and depth != len(stack) - 1:
        return False
    while len(stack) > depth + 1:
        orphan = stack.pop()
        stack[-1].children.extend(orphan.children)
    opened = stack.pop()
    span = QuoteSpan(opened.pos, pos, opened.skips)
    spans.append(span)
    nested[opened.pos] = span
    if stack:
        stack[-1].children.append(opened.pos)
    else:
        top.append(opened.pos)
    return True


def _drop(stack: list[_Open], top: list[int], nested: dict[int, QuoteSpan]) -> None:
    """Forget unclosed marks; the quotes they enclosed become top-level."""
    for opened in stack:
        top.extend(child for child in opened.children if child in nested)
    stack.clear()


def _carries(text: str, paragraphs: list[int], opened: _Open, last: int, nxt: int) -> bool:
    """Whether a quote left open at the end of a paragraph goes on into the next one."""
    if nxt - last > _MAX_CARRY:
        return False
    start = paragraphs[nxt]
    end = paragraphs[nxt + 1] if nxt + 1 < len(paragraphs) else len(text)
    chunk = text[start:end]
    head = chunk.lstrip(" \t*_>-")
    if head.startswith(opened.char):
        return True
    closer = _CLOSER_OF[opened.char]
    if opened.char == '"':
        return chunk.count('"') % 2 == 1
    return chunk.count(closer) > chunk.count(opened.char)


def _is_continuation(text: str, start: int, pos: int, char: str, opened: _Open) -> bool:
    """An opening mark starting a paragraph while the same quote is open continues it."""
    return char == opened.char and not text[start:pos].strip(" \t*_>-")


def _inner_text(text: str, span: QuoteSpan) -> str:
    """The quoted text without its marks, continuation marks or trailing comma."""
    pieces, cursor = [], span.open + 1
    for skip in span.skips:
        pieces.append(text[cursor:skip])
        cursor = skip + 1
    pieces.append(text[cursor : span.close])
    inner = " ".join("".join(pieces).split())
    return inner.strip(" *_").rstrip(",").rstrip()


def _clause_start(text: str, pos: int, floor: int, paragraphs: list[int]) -> int:
    """Start of the clause before a quote: its sentence, paragraph or the previous quote's end."""
    para = paragraphs[bisect.bisect_right(paragraphs, pos) - 1]
    lo = max(floor, para, pos - _WINDOW)
    ends = list(_SENTENCE_END.finditer(text, lo, pos))
    return ends[-1].end() if ends else lo


def _clause_end(text: str, pos: int, ceiling: int, paragraphs: list[int]) -> int:
    """End of the clause after a quote: its sentence, paragraph or the next quote's start."""
    index = bisect.bisect_right(paragraphs, pos)
    para_end = paragraphs[index] if index < len(paragraphs) else len(text)
    hi = min(ceiling, para_end, pos + _WINDOW)
    lead = len(text[pos:hi]) - len(text[pos:hi].lstrip(" ,.*_\u00a0"))
    end = _SENTENCE_END_AFTER.search(text, pos + lead, hi)
    return end.end() if end else hi


def _follows_naming_word(before: str) -> bool:
    """Whether the quote comes right after a word that introduces a name (`le dispositif`)."""
    tail = _TAIL_SPLIT.split(before[-40:].rstrip(" \u00a0:,*_").lower())
    return bool(tail) and tail[-1] in _NAMING_WORDS


def _clause_after_source(before: str, inner: str) -> bool:
    """`Selon le rapport, « les trajets … représentent 60 % »`: a clause set off by `,` or `:` is quoted, not named."""
    if not _SET_OFF.search(before[-40:]):
        return False
    words = inner.split()
    lowercase_clause = len(words) >= 4 and inner[:1].islower()
    return bool(_SOURCE_BEFORE.search(before)) or _is_full_sentence(inner) or lowercase_clause


def _looks_like_title(inner: str) -> bool:
    """A short capitalised phrase without sentence punctuation reads as a name or title."""
    words = inner.split()
    if _TERMINAL.search(inner) or len(words) > 8:
        return False
    capitalised = [w for w in words if w[:1].isupper() or w[:1].isdigit()]
    if not capitalised or not (words[0][:1].isupper() or words[0][:1].isdigit()):
        return False
    return len(words) <= 5 or len(capitalised) * 2 >= len(words)


def _is_full_sentence(inner: str) -> bool:
    """A quote long or complete enough to stand without an attribution."""
    words = inner.split()
    return len(words) >= 8 or (len(words) >= 4 and bool(_TERMINAL.search(inner)))


def _introducing_clause(text: str, pos: int, paragraphs: list[int], floor: int) -> int:
    """A quote opening a paragraph after one ending with a colon (`… has made the following statement:`)."""
    index = bisect.bisect_right(paragraphs, pos) - 1
    if index == 0 or paragraphs[index] != pos:
        return pos
    start = max(floor, paragraphs[index - 1])
    previous = text[start:pos].rstrip(" \t\n*_\u00a0")
    if not previous.endswith(":"):
        return pos
    return _clause_start(text, start + len(previous), start, paragraphs)


def _coordinated(text: str, previous: tuple[int, Quote] | None, pos: int, before: str) -> _Attribution | None:
    """`X estime que « … » et salue une « … »`: a speech verb sharing the subject of the quote just before."""
    if previous is None or previous[1].speaker is None or previous[0] < pos - _WINDOW:
        return None
    between = text[previous[0] + 1 : pos]
    if _SENTENCE_END.search(between) or "\n" in between or not people.SPEECH_VERB.search(before):
        return None
    return _Attribution(previous[1].speaker, previous[1].role)


def _inherit(previous: tuple[int, Quote] | None, paragraphs: list[int], pos: int, inner: str) -> _Attribution | None:
    """A quote right after another one, with no attribution of its own, goes on the same speaker."""
    if previous is None or previous[1].speaker is None or len(inner.split()) < 4:
        return None
    if not (inner[:1].isupper() or _TERMINAL.search(inner)):
        return None
    gap = bisect.bisect_right(paragraphs, pos) - bisect.bisect_right(paragraphs, previous[0])
    return _Attribution(previous[1].speaker, previous[1].role) if gap <= 1 else None


_VERB = people.SPEECH_VERB.pattern
_AFTER_VERB = re.compile(
    r"(?:(?:a|ont|avait|avaient)-t-(?P<p1>il|elle|ils|elles)\s+)?"
    r"(?:(?:a|ont|avait|avaient|has|had|have|would)\s+)?(?:s['’]est\s+|se\s+|s['’])?"
    rf"(?:{_VERB})(?:(?:-t)?-(?P<p2>il|elle|ils|elles))?(?![\w])\s*(?:par\s+|by\s+)?",
    re.IGNORECASE,
)
_AFTER_SOURCE = re.compile(
    r"(?:selon|d['’]après|according to|:\s*(?:entretien|interview|rencontre|conversation)\s+(?:avec|with|de|of))\s+",
    re.IGNORECASE,
)
_AFTER_PASSIVE = re.compile(
    r"(?:est|sont|a été|ont été|fut|was|were|is|are|has been|have been)\s+(?:[\w-]+\s+){1,3}?"
    r"(?:par|by)\s+",
    re.IGNORECASE,
)
_SPEECH_PASSIVE = re.compile(rf"{_VERB}|mise?s? en avant|highlighted|welcomed", re.IGNORECASE)
_PRONOUN_START = re.compile(r"(?:il|elle|he|she)\b", re.IGNORECASE)
_PREPOSITION_NAME = re.compile(
    r"^\W*(?:pour|selon|d['’]après|aux yeux de|according to|for|in the words of)\s+",
    re.IGNORECASE,
)


_INCISE = re.compile(
    rf"[,;]\s+(?:(?:a|avait)-t-(?P<pronoun>il|elle)\s+(?:{_VERB})|(?:{_VERB})(?:-t)?-(?P<p2>il|elle)"
    rf"|(?:(?:a|avait|has|had)\s+)?(?:{_VERB})\s+(?P<subject>(?:[\w'’-]+\s+){{0,4}}?[\w'’-]+))\s*[.,;!?]",
    re.IGNORECASE,
)
_TITLE_WORDS = re.compile(rf"^[\s,]*(?:(?:{people.HONORIFIC})\s+)*$")
_TITLE_PHRASE = re.compile(r"^(?:(?:[A-ZÀ-Ý][\w'’.-]*|of|for|and|de|du|des|la|the|&)\s+){1,8}$")
_SIGNATURE_DASH = re.compile(r"^[\s,]*[–—-]\s*(?:(?i:the)\s+)?")
_SIGNATURE_MAX = 240
_SIGNATURE_LINE = re.compile(r"^[\s–—-]*[^\n.!?«»“”\"]{3,200}$")
_INDEFINITE_SUBJECT = re.compile(
    r"(?<![\w'’])(?:un|une|a|an|one)\s+(?:[\w'’-]+\s+){0,1}?"
    r"(?:collègue|habitant|habitante|bénévole|salarié|salariée|agent|agente|élève|parent|mère|père|"
    r"patient|patiente|infirmière|infirmier|médecin|témoin|volunteer|resident|colleague|worker|"
    r"employee|mother|father|nurse|doctor|teacher|student|pupil|witness|official|source)s?(?![\w])",
    re.IGNORECASE,
)
_ORGANISATION_SUBJECT = re.compile(
    r"^\W*(?i:the|le|la|l['’]|les)\s*(?:[A-ZÀ-Ý][\w'’-]*\s*)(?:(?:of|for|de|des|du|d['’]|and|et|&)?\s*"
    r"[A-ZÀ-Ý][\w'’-]*\s*){0,5}$"
)


_DEFINITE = re.compile(r"(?:la|le|l['’]|the)\s*[\w'’-]+", re.IGNORECASE)
_MESSAGE_FROM = re.compile(
    r"\W*(?:(?:that|this|such)\s+(?:was|is)\s+(?:the\s+)?(?:message|view|warning|word)\s+(?:from|of)|"
    r"(?:c['’]est|tel est|voilà)\s+(?:le|la|l['’])\s*(?:message|avertissement|conviction|avis)\s+(?:de|d['’]))\s",
    re.IGNORECASE,
)


def _inside(pos: int, spans: list[QuoteSpan], opens: list[int]) -> bool:
    """Whether `pos` lies inside a pair of quotation marks."""
    index = bisect.bisect_right(opens, pos) - 1
    return index >= 0 and spans[index].open < pos < spans[index].close


def _is_title_prefix(between: str) -> bool:
    """Nothing, or only a capitalised title (`Regional Administrator`, `Minister`), before a name."""
    stripped = between.strip(" ,")
    if not stripped or _TITLE_PHRASE.match(stripped + " "):
        return True
    words = stripped.split()
    return between.rstrip().endswith(",") and len(words) <= 8 and people.is_role_head(words[-1].lower())


def _role_with_article(between: str) -> bool:
    """A role with its article between `selon`/`pour` and a name (`la conseillère fédérale`, `the Minister`)."""
    words = between.replace("’", "'").split()
    if not 1 <= len(words) <= 6 or not (words[0].lower() in {"le", "la", "the"} or words[0].lower().startswith("l'")):
        return False
    return people.is_role_head(words[0].lower().split("'")[-1]) or any(
        people.is_role_head(word.lower()) for word in words[1:]
    )


def _only_titles(between: str) -> bool:
    """Only honorifics (`Professor Sir`) between `according to` and a name."""
    return bool(_TITLE_WORDS.match(between))


class _Resolver:
    """Finds speakers around quotes, resolving pronouns and role references to people named before."""

    def __init__(self, text: str, paragraphs: list[int], spans: list[QuoteSpan]) -> None:
        self.text = text
        self.paragraphs = paragraphs
        opens = [span.open for span in spans]
        self.mentions = [m for m in people.find_people(text) if not _inside(m.start, spans, opens)]
        self.starts = [m.start for m in self.mentions]
        self.roles: dict[str, str] = {}
        self.genders: dict[str, str] = {}
        self.last_speaker: Quote | None = None
        self.last_paragraph = 0
        self.quote_open = 0

    def remember(self, quote: Quote) -> None:
        """Keep a speaker's role for later references to them."""
        if quote.speaker:
            self.last_speaker = quote
            self.last_paragraph = bisect.bisect_right(self.paragraphs, self.quote_open) - 1
            if quote.role:
                self.roles.setdefault(quote.speaker, quote.role)

    def _mentions_in(self, lo: int, hi: int) -> list[people.Mention]:
        first = bisect.bisect_left(self.starts, lo)
        last = bisect.bisect_left(self.starts, hi)
        return [m for m in self.mentions[first:last] if m.end <= hi]

    def _person(self, mention: people.Mention, floor: int) -> _Attribution:
        role = (
            people.role_after(self.text, mention.end)
            or people.role_before(self.text, mention.start, floor)
            or self.roles.get(mention.name)
        )
        if role:
            self.roles.setdefault(mention.name, role)
        gender = speakers.gender_near(self.text, mention.start, role)
        if gender:
            self.genders.setdefault(mention.name, gender)
        return _Attribution(mention.name, role)

    def _compatible(self, mention: people.Mention, gender: str | None) -> bool:
        """Whether a person may be the one a pronoun of `gender` refers to."""
        if gender is None:
            return True
        if mention.name not in self.genders:
            role = people.role_after(self.text, mention.end) or people.role_before(self.text, mention.start, 0)
            found = speakers.gender_near(self.text, mention.start, role)
            if found:
                self.genders[mention.name] = found
        return self.genders.get(mention.name, gender) == gender

    def _subject(self, start: int, end: int) -> _Attribution:
        """Who is named at `start` (a name, a pronoun, a role such as « la ministre »)."""
        window = self.text[start:end]
        mentions = self._mentions_in(start, min(end, start + 160))
        if mentions and len(self.text[start : mentions[0].start].split()) <= 12:
            return self._person(mentions[0], start)
        pronoun = _PRONOUN_START.match(window)
        if pronoun:
            return self._resolve_pronoun(start, pronoun.group(0))
        role = people.ROLE_REFERENCE.match(window)
        if role:
            return self._resolve_role(role.group(1), start)
        return self._definite_subject(window)

    def _definite_subject(self, window: str) -> _Attribution:
        """`raconte la jeune éleveuse`: a definite description names the person just introduced."""
        if not _DEFINITE.match(window):
            return _Attribution(None, None)
        local = self._paragraph_people(None)
        if not local:
            return _Attribution(None, None)
        person = self._person(local[-1], 0)
        return _Attribution(person.speaker, person.role, confidence.FAR_REFERENCE)

    def _paragraph_people(self, gender: str | None) -> list[people.Mention]:
        """The people named in the quote's paragraph before it, compatible with `gender`."""
        index = bisect.bisect_right(self.paragraphs, self.quote_open) - 1
        start = self.paragraphs[index] if index >= 0 else 0
        return [m for m in self._mentions_in(start, self.quote_open) if self._compatible(m, gender)]

    def _paragraph_subject(self, gender: str | None) -> _Attribution | None:
        """The last person, or role reference to a person, in the quote's paragraph before it."""
        index = bisect.bisect_right(self.paragraphs, self.quote_open) - 1
        start = self.paragraphs[index] if index >= 0 else 0
        local = self._paragraph_people(gender)
        last_mention = local[-1].start if local else -1
        for role in reversed(list(people.ROLE_REFERENCE.finditer(self.text, start, self.quote_open))):
            if role.start() <= last_mention:
                break
            person = self._resolve_role(role.group(1), role.start(), gender, fallback=False)
            if person.speaker:
                return person
        return self._person(local[-1], 0) if local else None

    def _resolve_pronoun(self, pos: int, pronoun: str = "") -> _Attribution:
        """The person a pronoun refers to: the last compatible one named in its paragraph, else before."""
        gender = speakers.pronoun_gender(pronoun) if pronoun else None
        return self._known_gender(self._pronoun_referent(pos, gender), gender)

    def _known_gender(self, person: _Attribution, gender: str | None) -> _Attribution:
        """Remember the gender a pronoun just gave a person."""
        if person.speaker and gender:
            self.genders.setdefault(person.speaker, gender)
        return person

    def _pronoun_referent(self, pos: int, gender: str | None) -> _Attribution:
        """The last compatible person named in the pronoun's paragraph, else before it."""
        local = self._paragraph_subject(gender)
        if local is not None:
            return _Attribution(local.speaker, local.role, min(local.score, confidence.REFERENCE))
        index = bisect.bisect_left(self.starts, min(pos, self.quote_open)) - 1
        last = self.last_speaker
        if index >= 0 and last is not None and last.role and self.mentions[index].name in last.role:
            return _Attribution(last.speaker, last.role, confidence.REFERENCE)
        for mention in reversed(self.mentions[max(0, index - 30) : index + 1]):
            if self._compatible(mention, gender):
                person = self._person(mention, 0)
                return _Attribution(person.speaker, person.role, confidence.FAR_REFERENCE)
        if last is not None and (gender is None or self.genders.get(last.speaker or "", gender) == gender):
            return _Attribution(last.speaker, last.role, confidence.FAR_REFERENCE)
        return _Attribution(None, None)

    def _resolve_role(
        self, role: str, pos: int, gender: str | None = None, fallback: bool = True
    ) -> _Attribution:
        """The person a role reference (`la ministre`, `the Minister`) points to: the last one
        holding that role, else (with `fallback`) the last speaker, who is being described."""
        head = role.split()[-1].lower()
        gender = gender or self._role_gender(role, pos)
        index = bisect.bisect_left(self.starts, min(pos, self.quote_open)) - 1
        recent = [m for m in self.mentions[max(0, index - 30) : index + 1] if self._compatible(m, gender)]
        for mention in reversed(recent):
            known_role = self.roles.get(mention.name)
            if known_role and head in known_role.lower():
                return _Attribution(mention.name, known_role, confidence.REFERENCE)
        for mention in reversed(recent):
            person = self._person(mention, 0)
            if person.role and head in person.role.lower():
                return _Attribution(person.speaker, person.role, confidence.REFERENCE)
        last = self.last_speaker
        if fallback and last is not None and self._recent_speaker(last, gender):
            return _Attribution(last.speaker, last.role, confidence.FAR_REFERENCE)
        return _Attribution(None, None)

    def _role_gender(self, role: str, pos: int) -> str | None:
        """The gender of a role reference written at or after `pos` (`la ministre`, `le délégué`)."""
        at = self.text.find(role, pos)
        return speakers.role_gender(role, self.text[max(0, at - 20) : at + len(role)] if at >= 0 else "")

    def _recent_speaker(self, last: Quote, gender: str | None) -> bool:
        """Whether the last speaker is compatible with `gender` and spoke in this or the previous paragraph."""
        if gender is not None and self.genders.get(last.speaker or "", gender) != gender:
            return False
        return self.last_paragraph >= bisect.bisect_right(self.paragraphs, self.quote_open) - 2

    def beside(self, span: QuoteSpan) -> _Attribution | None:
        """A quote standing alone as a paragraph: said by the one person its previous paragraph
        presents, or by the one its next paragraph names (`That was the message from …`)."""
        if not speakers.is_answer(self.text, self.paragraphs, span.open, span.close):
            return None
        index = bisect.bisect_right(self.paragraphs, span.open) - 1
        following = self._paragraph(index + 1)
        if following is not None and _MESSAGE_FROM.match(self.text, following[0], following[1]):
            named = self._mentions_in(*following)
            return self._person(named[0], following[0]) if named else None
        previous = self._paragraph(index - 1)
        if previous is None:
            return None
        named = {m.name: m for m in self._mentions_in(*previous)}
        if len(named) != 1:
            return None
        return self._person(next(iter(named.values())), previous[0])

    def _paragraph(self, index: int) -> tuple[int, int] | None:
        """Start and end of paragraph `index`, if there is one."""
        if index < 0 or index >= len(self.paragraphs):
            return None
        end = self.paragraphs[index + 1] if index + 1 < len(self.paragraphs) else len(self.text)
        return self.paragraphs[index], end

    def after(self, start: int, after: str) -> _Attribution | None:
        """Attribution written after the quote: `, a déclaré X`, `said X`, `X said`, `she added`."""
        stripped = after.lstrip(" ,*_\u00a0")
        base = start + len(after) - len(stripped)
        end = start + len(after)
        signed = self._signature(start, after)
        if signed is not None:
            return signed
        for pattern in (_AFTER_VERB, _AFTER_SOURCE, _AFTER_PASSIVE):
            match = pattern.match(stripped)
            if match and pattern is _AFTER_PASSIVE and not _SPEECH_PASSIVE.search(match.group(0)):
                continue
            if match:
                pronoun = match.groupdict().get("p1") or match.groupdict().get("p2")
                if pronoun:
                    return self._resolve_pronoun(start, pronoun)
                return self._subject(base + match.end(), end)
        return self._subject_then_verb(base, stripped, end)

    def _signature(self, start: int, after: str) -> _Attribution | None:
        """`“…” – Jane Doe, Director`, or a quote closing its paragraph above a `Jane Doe, ministre` line."""
        dash = _SIGNATURE_DASH.match(after)
        if dash:
            return self._signed_by(start + dash.end(), start + len(after))
        if after.strip().strip(",.*_"):
            return None
        index = bisect.bisect_right(self.paragraphs, start)
        if index >= len(self.paragraphs):
            return None
        line_start = self.paragraphs[index]
        line_end = self.paragraphs[index + 1] if index + 1 < len(self.paragraphs) else len(self.text)
        if line_end - line_start > _SIGNATURE_MAX:
            return None
        line = self.text[line_start:line_end].rstrip()
        if not _SIGNATURE_LINE.match(line):
            return None
        return self._signed_by(line_start + len(line) - len(line.lstrip(" \t–—-")), line_start + len(line))

    def _signed_by(self, start: int, end: int) -> _Attribution | None:
        """The person whose name opens a signature (`The Honourable Jane Doe, Minister of …`)."""
        mentions = self._mentions_in(start, min(end, start + 200))
        if not mentions:
            return None
        lead = self.text[start : mentions[0].start]
        if not (_only_titles(lead) or _TITLE_PHRASE.match(lead)):
            return None
        tail = self.text[mentions[0].end : end]
        if tail.strip() and not tail.lstrip().startswith(","):
            return None
        return self._person(mentions[0], start)

    def _subject_then_verb(self, base: int, stripped: str, end: int) -> _Attribution | None:
        """`X, ROLE, said.` / `she added` / `the Minister said` / `le communiqué précise`."""
        verb = people.SPEECH_VERB.search(stripped[:200])
        if verb is None or _CLAUSE_PUNCTUATION.search(stripped[: verb.start()]):
            return None
        subject = stripped[: verb.start()]
        if len(subject.split()) > 16:
            return None
        mentions = self._mentions_in(base, base + verb.start())
        if mentions and _is_title_prefix(self.text[base : mentions[0].start]):
            return self._person(mentions[0], base)
        pronoun = _PRONOUN_START.match(subject)
        if pronoun:
            return self._resolve_pronoun(base, pronoun.group(0))
        role = people.ROLE_REFERENCE.match(subject)
        if role:
            return self._resolve_role(role.group(1), base)
        if people.DOCUMENT_SUBJECT.match(subject):
            return _Attribution(None, None)
        return None

    def incise(self, pos: int, inner: str) -> _Attribution | None:
        """An attribution inside the quote: `« C'est juste, ajoute-t-elle. Et utile. »`."""
        match = _INCISE.search(inner)
        if match is None:
            return None
        if match.group("pronoun") or match.group("p2"):
            return self._resolve_pronoun(pos, match.group("pronoun") or match.group("p2"))
        subject = match.group("subject") or ""
        mentions = people.find_people(subject)
        if mentions:
            known = [m for m in self.mentions if m.name == mentions[0].name and m.start <= pos]
            return self._person(known[-1], 0) if known else _Attribution(mentions[0].name, None)
        role = people.ROLE_REFERENCE.match(subject)
        return self._resolve_role(role.group(1), pos) if role else None

    def _subject_mention(self, mentions: list[people.Mention], verb_at: int) -> people.Mention:
        """The speaker among names before a verb: the first one whose role holds the later names."""
        subject = [m for m in mentions if m.start < verb_at] or mentions
        first = subject[0]
        if len(subject) > 1 and self.text[first.end : first.end + 1] == ",":
            return first
        return subject[-1]

    def before(self, lo: int, before: str) -> _Attribution | None:
        """Attribution written before the quote: `Pour X, ROLE :`, `X a déclaré :`, `X se félicite d'une`."""
        hi = lo + len(before)
        tail = before.rstrip(" \t\n\u00a0*_")
        colon = tail.endswith(":")
        preposition = _PREPOSITION_NAME.match(before)
        verb = people.SPEECH_VERB.search(before)
        if not (colon or preposition or verb):
            return None
        mentions = self._mentions_in(lo, hi)
        between = self.text[lo + preposition.end() : mentions[0].start] if preposition and mentions else ""
        if preposition and mentions and (_only_titles(between) or _role_with_article(between)):
            return self._person(mentions[0], lo)
        if mentions and verb:
            return self._person(self._subject_mention(mentions, lo + verb.start()), lo)
        if mentions and colon:
            return self._person(mentions[0], lo)
        clause = before.strip()
        pronoun = _PRONOUN_START.match(before[preposition.end() :]) if preposition else None
        if pronoun:
            return self._resolve_pronoun(lo, pronoun.group(0))
        pronoun = _PRONOUN_START.match(clause) or (people.PRONOUN.search(before[: verb.start()]) if verb else None)
        if pronoun:
            return self._resolve_pronoun(lo, pronoun.group(0))
        if verb and _INDEFINITE_SUBJECT.search(before):
            return _Attribution(None, None)
        role = people.ROLE_REFERENCE.search(before[: verb.start()] if verb else before)
        if role and (verb or colon):
            return self._resolve_role(role.group(1), lo)
        if verb and people.DOCUMENT_SUBJECT.search(before[: verb.start()]):
            return _Attribution(None, None)
        if preposition or (verb and _ORGANISATION_SUBJECT.match(before[: verb.start()])):
            return _Attribution(None, None)
        return None
