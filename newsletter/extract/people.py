"""People in French and English text: person names, their roles, speech verbs and references."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from newsletter.extract.text import trie_pattern, words

_UP = "A-ZÀ-ÖØ-Þ"
_LOW = "a-zß-öø-ÿ"
_NAME_WORD = rf"(?:O['’])?[{_UP}][{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:['’][{_UP}]?[{_LOW}]+)?(?:-[{_UP}][{_LOW}]+)*"
_CAPS_WORD = rf"[{_UP}]{{2,}}(?:-[{_UP}]{{2,}})*"
_INITIAL = rf"[{_UP}]\."
_PARTICLE = r"(?:(?:(?:de|du|des|van|von|der|den|da|di|del|della|dos|le|la|bin|ben|al|ter|zu)\s+|d['’]){1,2})"
_HONORIFIC = (
    r"(?:M\.|Mme|Mmes|MM\.|Mr\.?|Mrs\.?|Ms\.?|Dr\.?|Pr\.?|Prof\.?|Sir|Dame|Lord|Lady|Baroness|Baron|"
    r"Professor|Councillor|Cllr|Rev\.?|Reverend|Rt\.? Hon\.?|Me|Maître|Mgr)"
)
_GAP = r"(?:[ \t\u00a0]+|[ \t\u00a0]*\n[ \t\u00a0]*)"
PERSON = re.compile(
    rf"(?=[{_UP}])(?<![^\s(«“\"'’*])"
    rf"(?:{_HONORIFIC}\s+)*"
    rf"(?:{_NAME_WORD}|{_INITIAL})(?:\s+{_INITIAL})?"
    rf"(?:{_GAP}{_PARTICLE}?(?:{_NAME_WORD}|{_CAPS_WORD})){{1,5}}"
    rf"(?![\w'’])",
)
HONORIFIC = _HONORIFIC
_HONORIFIC_PREFIX = re.compile(rf"^(?:{_HONORIFIC}\s+)+")

_NOT_NAME_WORDS = words(
    """
    le la les l un une des du de pour selon alors dans en au aux avec par sur depuis ce
    cette ces il elle ils elles nous vous on madame monsieur mesdames messieurs cher chère
    chers the this that these those for in on at as of by to from with a an and or but
    according he she they we it our their his her its mr mrs ms dr ministère ministry
    ministre minister ministers secrétaire secretary président présidente president premier
    première prime state état etat états gouvernement government république republic union
    mission missions locale locales france travail emploi santé solidarités familles
    jeunesse jeunes jeune service services direction délégation agence agency department
    office bureau conseil council association fondation foundation fonds fund institut
    institute université university centre center commission committee comité bank banque
    group groupe kingdom royaume nations national nationale nationales europe européenne
    european régional régionale regional federal fédéral fédérale county city ville street
    rue avenue boulevard road place plan programme program loi act bill code campus lundi
    mardi mercredi jeudi vendredi samedi dimanche monday tuesday wednesday thursday friday
    saturday sunday janvier février mars avril mai juin juillet août septembre octobre
    novembre décembre january february march april may june july august september october
    november december twitch youtube facebook linkedin instagram tiktok twitter google apple
    microsoft amazon meta paris london londres lyon marseille brussels bruxelles chambre
    assemblée sénat senate parliament parlement house cour court tribunal police église
    church école school lycée collège college hôpital hospital caisse pôle cap chamber trust
    partnership alliance network réseau federation fédération confédération cabinet treasury
    downing whitehall elysée élysée matignon hôtel musée museum contrat engagement accord
    agreement pacte pact charte charter rapport report région region département department
    île ile métropole territoire territoires communauté community enterprise entreprise company
    authority autorité observatoire observatory college society société honourable honorable hon
    division
    """
)
_NAME_PARTICLES = words("le la de du des van von der den da di del della dos ter")
_POST_NOMINALS = words("mp mep td msp mla mpp mhk qc kc obe cbe mbe dbe phd")
_ORG_TAILS = words(
    """
    sa sas sarl inc ltd llc plc gmbh ag group groupe
    """
)

ROLE_HEADS = words(
    """
    ministre secrétaire sous-secrétaire délégué déléguée directeur directrice président
    présidente vice-président vice-présidente préfet préfète maire adjoint adjointe député
    députée sénateur sénatrice porte-parole haut-commissaire haute-commissaire commissaire
    chef cheffe responsable fondateur fondatrice cofondateur cofondatrice co-fondateur
    co-fondatrice dg pdg ceo conseiller conseillère coordinateur coordinatrice
    administrateur administratrice gérant gérante chargé chargée ambassadeur ambassadrice
    recteur rectrice doyen doyenne professeur professeure chercheur chercheuse économiste
    sociologue expert experte membre représentant représentante élu élue trésorier
    trésorière manager directeur-général directrice-générale patron patronne dirigeant
    dirigeante minister secretary director chair chairman chairwoman chairperson
    vice-president chief executive officer commissioner mayor spokesperson spokesman
    spokeswoman leader governor founder co-founder cfo coo cto mp mep senator deputy
    ambassador adviser advisor professor coordinator principal dean chancellor
    undersecretary under-secretary representative economist researcher head inspector lead
    partner trustee administrator attorney superintendent
    """
)

SPEECH_VERBS = words(
    """
    déclare déclarent déclaré déclarée déclarés affirme affirment affirmé affirmée souligne
    soulignent souligné soulignée soulignés soulignées explique expliquent expliqué
    expliquée indique indiquent indiqué indiquée précise précisent précisé précisée ajoute
    ajoutent ajouté ajoutée estime estiment estimé estimée rappelle rappellent rappelé
    rappelée salue saluent salué saluée félicite félicitent félicité félicitée félicités
    réjouit réjouissent réjoui réjouie annonce annoncent annoncé annoncée insiste insistent
    insisté conclut concluent conclu conclue assure assurent assuré assurée confie confient
    confié confiée martèle martelé martelée poursuit poursuivi poursuivie commente commenté
    commentée note noté notée observe observé observée résume résumé résumée témoigne
    témoigné témoignée reconnaît reconnait reconnu reconnue lance lancé lancée dit disent
    relève relevé relevée raconte racontent raconté racontée détaille détaillé détaillée
    plaide plaidé plaidée juge jugé jugée
    considère considéré considérée promet promis promise espère espéré espérée alerte alerté
    alertée prévient prévenu prévenue réagit réagi réagie complète complété complétée répond
    répondu répondue confirme confirmé confirmée regrette regretté regrettée avertit averti
    avertie nuance nuancé nuancée interpelle interpellé enthousiasme enthousiasmé
    enthousiasmée insistait déclarait expliquait soulignait affirmait said says say added
    adds explained explains stated states commented comments noted notes announced announces
    remarked told tells continued continues emphasised emphasized emphasises emphasizes
    highlighted highlights welcomed welcomes declared declares insisted insists argued
    argues warned warns urged urges acknowledged acknowledges confirmed confirms observed
    observes concluded concludes wrote writes replied replies responded responds underlined
    underlines stressed stresses reflected praised praises recalled recalls disait disaient
    écrivait écrit confiait reconnaissait admis admise admet admettent concède concédé
    """
)
SPEECH_VERB = re.compile(rf"(?<![\w-]){trie_pattern(SPEECH_VERBS)}(?![\w])", re.IGNORECASE)
PRONOUN = re.compile(r"(?<![\w])(?:-t-)?(il|elle|he|she)(?![\w'’-])", re.IGNORECASE)
SOURCE_PREPOSITION = re.compile(
    r"(?:^|[\s(])(?:pour|selon|d['’]après|aux yeux de|according to|for|in the words of)\s*$",
    re.IGNORECASE,
)
ROLE_REFERENCE = re.compile(
    r"(?<![\w])(?:la|le|l['’]|the|notre|our)\s*((?:[\w-]+\s+){0,2}?" + trie_pattern(ROLE_HEADS) + r")(?![\w])",
    re.IGNORECASE,
)
DOCUMENT_SUBJECT = re.compile(
    r"(?<![\w])(?:le|la|l['’]|les|the|this|ce|cette|son|sa|their|its)\s*(?:[\w-]+\s+)?"
    r"(?:communiqué|texte|rapport|accord|convention|ministère|gouvernement|document|étude|enquête|"
    r"bilan|note|circulaire|décret|arrêté|loi|statement|report|department|government|ministry|"
    r"release|study|survey|agreement|announcement|press release|organisation|organization|"
    r"association|agence|agency|fédération|federation|syndicat|union|réseau|network|"
    r"entreprise|company|groupe|group|conseil|council|commission|office|service)(?![\w])",
    re.IGNORECASE,
)


_COMMA_SPLIT = re.compile(r"\s*,\s*")
_CLAUSE_BREAK = re.compile(r"[.!?»”]\s+|\n")
_WORD_TOKEN = re.compile(r"[\w'’-]+")
_TRAILING_CONJUNCTION = re.compile(r"\b(?:et|and|ou|or)$")
_ROLE_LINK_BEFORE = re.compile(r"\b(?:for|of|de|du|des|chargée?)\s+$", re.IGNORECASE)
_LEADING_ARTICLE = re.compile(r"^(?:(?:the|le|la)\s+|l['’]\s*)", re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    """A person name found in the text, with its offsets."""

    name: str
    start: int
    end: int


def find_people(text: str, offset: int = 0) -> list[Mention]:
    """Every person-like name in `text`, then later mentions by surname alone, offsets shifted by `offset`."""
    mentions: list[Mention] = []
    for match in PERSON.finditer(text):
        cleaned = _clean_name(match.group(0))
        if cleaned is None:
            continue
        cleaned = _drop_role_words(text, match.start(), cleaned)
        shift = max(match.group(0).find(cleaned), 0)
        if (
            shift == 0
            and len(cleaned.split()) == 2
            and _ORGANISATION_LINK.search(text, max(0, match.start() - 60), match.start())
        ):
            continue
        start = match.start() + shift
        mentions.append(Mention(cleaned, start, start + len(cleaned)))
    mentions = _with_surnames(text, mentions)
    return [Mention(m.name, m.start + offset, m.end + offset) for m in mentions]


def _occurrences(text: str, word: str, start: int) -> list[int]:
    """Offsets of `word` as a whole word in `text` from `start` (plain `str.find`: fast)."""
    found = []
    position = text.find(word, start)
    while position != -1:
        end = position + len(word)
        if not _WORD_CHAR.match(text[position - 1 : position]) and not _WORD_CHAR.match(text[end : end + 1]):
            found.append(position)
        position = text.find(word, end)
    return found


_WORD_CHAR = re.compile(r"[\w'’-]")


def _speaks_by_surname(text: str, start: int, end: int) -> bool:
    """A surname alone names a speaker after an honorific, `selon` or a speech verb, or before a speech verb."""
    before = text[max(0, start - 40) : start]
    if _SURNAME_INTRO.search(before):
        return True
    previous = before.split()[-1:]
    if previous and before[-1:].isspace() and SPEECH_VERB.fullmatch(previous[0]):
        return True
    auxiliary = _SURNAME_AUXILIARY.match(text, end, end + 40)
    return auxiliary is not None and SPEECH_VERB.match(text, auxiliary.end()) is not None


_SURNAME_INTRO = re.compile(
    rf"(?:(?<![\w]){_HONORIFIC}|(?<![\w])(?:selon|d['’]après|according to|pour))\s+$", re.IGNORECASE
)
_SURNAME_AUXILIARY = re.compile(r"\s+(?:(?:a|has|had|have|also)\s+)?")


_ORGANISATION_LINK = re.compile(rf"[{_UP}][\w-]*\s+(?:of|for|de|du|des|de\s+la|d['’])\s*$")


def _with_surnames(text: str, mentions: list[Mention]) -> list[Mention]:
    """Add `Smith said` / `Ms Gougeon` mentions for people already named in full earlier."""
    first_seen: dict[str, Mention] = {}
    for mention in mentions:
        surname = mention.name.split()[-1]
        known = first_seen.get(surname)
        if known is None:
            first_seen[surname] = mention
        elif known.name != mention.name:
            first_seen[surname] = Mention("", known.start, known.end)
    surnames = {key: m for key, m in first_seen.items() if m.name and len(key) > 2}
    if not surnames:
        return mentions
    starts = [m.start for m in mentions]
    added = []
    for surname, person in surnames.items():
        for start in _occurrences(text, surname, person.end):
            index = bisect.bisect_right(starts, start) - 1
            inside = index >= 0 and mentions[index].end > start
            if not inside and _speaks_by_surname(text, start, start + len(surname)):
                added.append(Mention(person.name, start, start + len(surname)))
    return sorted(mentions + added, key=lambda m: m.start) if added else mentions


def _drop_role_words(text: str, start: int, name: str) -> str:
    """`Minister for Digital Skills Priya Shah`: the words before the last two belong to the role."""
    words_in_name = name.split()
    if len(words_in_name) < 3 or any(w[:1].islower() for w in words_in_name):
        return name
    if _ROLE_LINK_BEFORE.search(text, max(0, start - 40), start):
        return " ".join(words_in_name[-2:])
    return name


def _clean_name(candidate: str) -> str | None:
    """Drop honorifics and leading non-name words; reject organisations and places."""
    candidate = _HONORIFIC_PREFIX.sub("", candidate)
    words = candidate.split()
    while len(words) > 2 and words[-1].isupper() and words[-1].lower() in _POST_NOMINALS:
        words = words[:-1]
    for index in range(len(words) - 1, -1, -1):
        lowered_word = words[index].lower().strip("'’")
        if _is_inner_particle(words, index):
            continue
        if words[index][:1].isupper() and (lowered_word in _NOT_NAME_WORDS or lowered_word in ROLE_HEADS):
            words = words[index + 1 :]
            break
    if len(words) < 2:
        return None
    lowered = [w.lower() for w in words]
    outside = [w for i, w in enumerate(lowered[1:], 1) if w[:1] != "d" and not _is_inner_particle(words, i)]
    if any(w in _NOT_NAME_WORDS for w in outside) or lowered[-1] in _ORG_TAILS:
        return None
    if all(w.isupper() for w in words) or any(w.endswith(".") for w in words[1:]):
        return None
    if words[-1].endswith(("'s", "’s")) or words[0][:1].islower():
        return None
    return " ".join(words)


def _is_inner_particle(words: list[str], index: int) -> bool:
    """`Le` in `Yann Le Goff`: a capitalised particle between a first name and a surname."""
    return (
        0 < index < len(words) - 1
        and words[index].lower() in _NAME_PARTICLES
        and (words[index - 1] in _NAME_PARTICLES or words[index - 1].lower() not in _NOT_NAME_WORDS)
        and words[index - 1].lower() not in ROLE_HEADS
    )


def role_after(text: str, end: int) -> str | None:
    """The role written right after a name (`, ministre du Travail, de la Santé :`)."""
    window = text[end : end + 300]
    if not window.startswith(","):
        return None
    segments = _COMMA_SPLIT.split(_cut_at_terminator(window[1:]))
    if not segments or not _starts_like_role(segments[0]):
        return None
    kept = [segments[0]]
    for segment in segments[1:]:
        if not _CONTINUATION.match(segment):
            break
        kept.append(segment)
    role = ", ".join(kept).strip(" ,;")
    return _strip_article(role) or None


_CONTINUATION = re.compile(
    r"(?:de|du|des|d['’]|of|for|à|au|aux|en charge|chargée?|chargés?|in charge|on)\b",
    re.IGNORECASE,
)
_TERMINATOR = re.compile(r"\s*(?::|;|«|“|\"|\(|\.(?:\s|$)|\n| - | – | — )")


def _cut_at_terminator(window: str) -> str:
    """Cut a role window at the first colon, quotation mark, full stop or line break."""
    match = _TERMINATOR.search(window)
    return window[: match.start()] if match else window


def _starts_like_role(segment: str) -> bool:
    """A role starts with (or soon reaches) a role head noun and is not a verb phrase."""
    words = [w.lower() for w in _WORD_TOKEN.findall(segment)[:5]]
    if not words or words[0] in SPEECH_VERBS or words[0] in {"se", "s", "a", "has", "is", "est"}:
        return False
    return any(is_role_head(w) for w in words[:4])


def is_role_head(word: str) -> bool:
    """`ministre`, `l'adjointe`, `président-directeur`: a role noun, alone or in a compound."""
    word = word.split("'")[-1].split("’")[-1]
    return word in ROLE_HEADS or any(part in ROLE_HEADS for part in word.split("-"))


def role_before(text: str, start: int, floor: int) -> str | None:
    """The role written just before a name (`la ministre du Travail, Catherine Vautrin`)."""
    window_start = max(floor, start - 160)
    window = text[window_start:start]
    sentence = list(_CLAUSE_BREAK.finditer(window))
    if sentence:
        window = window[sentence[-1].end() :]
    heads = list(_WORD_TOKEN.finditer(window))
    for index in range(len(heads) - 1, -1, -1):
        word = heads[index].group(0).lower().split("'")[-1].split("’")[-1]
        if word in ROLE_HEADS:
            first = index
            while (
                first > 0
                and (heads[first - 1].group(0)[:1].isupper() or is_role_head(heads[first - 1].group(0).lower()))
                and not window[heads[first - 1].end() : heads[first].start()].strip()
            ):
                first -= 1  # `Secrétaire d'État`, `vice-président chargé des sports`
            role = window[heads[first].start() :].strip(" ,")
            if _TRAILING_CONJUNCTION.search(role):
                return None
            if len(role.split()) <= 16 and not SPEECH_VERB.search(role):
                return _strip_article(role) or None
            return None
    return None


def _strip_article(role: str) -> str:
    """Drop a leading article from a role."""
    return _LEADING_ARTICLE.sub("", role.strip())
