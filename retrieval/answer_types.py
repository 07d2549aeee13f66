"""What kind of answer a question wants, and where text holds one.

People ask "when", "how many", "who" and "where" questions whose key word carries the meaning
but matches nothing: "when was R1 released" shares no term with "on January 20, 2025". Knowing
the kind lets ranking prefer passages that hold a date, and lets the direct answer mark it.

Both halves are deliberately conservative. A wrong kind pushes the right passage down, so
`question_kind` answers None unless a cue is unambiguous; a wrong span shows a user a bold
word that is not the answer, so person and place spans favour precision over recall.
Everything here is regular expressions compiled once and linear scans: it runs on every
question and on every sentence of the top passages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from retrieval.patterns import Lazy, fold, lazy

DATE = "date"
NUMBER = "number"
PERSON = "person"
PLACE = "place"
KINDS = (DATE, NUMBER, PERSON, PLACE)

# ---------------------------------------------------------------------------------------------
# Question kinds
# ---------------------------------------------------------------------------------------------

# Chat openers that may stand before the question word ("ok so when did ...").
_LEAD = r"^(?:(?:and|but|so|ok|okay|hey|hi|then|also|um|uh|just|pls|please|btw|wait|like)[\s,]+)*"

_PERSON_NOUNS = (
    "person|people|man|woman|men|women|scientist|scientists|president|king|queen|emperor|"
    "empress|author|writer|novelist|poet|actor|actress|singer|player|ceo|founder|inventor|"
    "composer|artist|painter|sculptor|architect|politician|leader|general|director|"
    "philosopher|mathematician|physicist|chemist|economist|engineer|explorer|pope|prince|"
    "princess|chancellor|senator|governor|mayor|minister|prime minister|monarch|ruler|pharaoh|"
    "saint|musician|rapper|band member|coach|manager|owner|researcher|professor|astronaut|"
    "athlete|footballer|cricketer|general|admiral|commander|dictator|designer|journalist|"
    "founder|co-founder|cofounder|son|daughter|wife|husband|father|mother|brother|sister"
)
_PLACE_NOUNS = (
    "city|cities|country|countries|town|towns|village|state|states|province|region|county|"
    "district|continent|island|capital|nation|municipality|borough|suburb|neighbourhood|"
    "neighborhood|area|place|location|river|lake|mountain|port|prefecture|territory|"
    "department|parish|valley|island|state or province"
)

# Each pattern's match start orders the cues: the earliest cue in a question decides its kind.
# Each names the words one of which every match holds (`needs`, see `retrieval.patterns`):
# a question with none of them does not compile the cue.
_QUESTION_CUES: tuple[tuple[str, Lazy], ...] = (
    (
        DATE,
        lazy(
            _LEAD + r"(?:since |until |till |from )?(?:when|whens)\b"
            r"|\bhow long ago\b"
            r"|\b(?:what|which|wat|wich)\s+(?:year|years|date|day|month|decade|century|era)\b"
            r"|\bin\s+(?:what|which)\s+(?:year|decade|century|month)\b"
            r"|\b(?:what|which)\s+(?:is|was|were)\s+the\s+(?:year|date)\b"
            r"|\b(?:year|date)\s+(?:of|did|was|when)\b(?=.*\b(?:what|which)\b)"
            r"|\bwhen\s*$",
            needs=("when", "ago", "year", "date", "day", "month", "decade", "century", "era"),
        ),
    ),
    (
        NUMBER,
        lazy(
            r"\bhow\s+(?:many|much|long|old|big|tall|far|high|large|heavy|fast|deep|wide|"
            r"short|small|often|long\s+is|much\s+did)\b(?!\s+ago\b)"
            r"|\b(?:what|which)\s+(?:percentage|percent|proportion|fraction|share|number|"
            r"amount|age|size|height|length|distance|area|population|cost|price|budget|"
            r"revenue|salary|speed|weight|depth|temperature|score)\b"
            r"|\b(?:what|whats|what's)\s+(?:is\s+|was\s+|are\s+|were\s+)?(?:the\s+|its\s+|their\s+)?"
            r"(?:top\s+|maximum\s+|max\s+|minimum\s+|average\s+|highest\s+|lowest\s+)?"
            r"(?:population|cost|price|percentage|budget|revenue|number\s+of|total|"
            r"area|height|length|age|size|salary|value|death\s+toll|life\s+expectancy|speed|"
            r"weight|temperature|distance|elevation|altitude|capacity|diameter|depth|width|"
            r"rate)\b"
            r"|\bpopulation\s+of\b"
            r"|\bnumber\s+of\b(?=.*\b(?:what|how)\b)",
            needs=(
                *("how percent proportion fraction share number amount age size height".split()),
                *("length distance area population cost price budget revenue salary".split()),
                *("speed weight depth temperature score total value death life".split()),
                *("elevation altitude capacity diameter width rate".split()),
            ),
        ),
    ),
    (
        PERSON,
        lazy(
            # "who is yann lecun" asks for a description, not a name: "who" + be + an article or
            # a participle ("who was the first", "who was elected") or any other verb.
            _LEAD + r"(?:who|whom|whose)\s+(?!(?:is|was|are|were|'s)\s+(?!the\b|a\b|an\b|"
            r"first\b|last\b|\w+ed\b|\w+en\b|behind\b|responsible\b|in\s+charge\b|known\b|"
            r"considered\b|credited\b|called\b))"
            # "who is openai's ceo", "who was the band's drummer": a role, so a name answers
            r"|" + _LEAD + r"who\s+(?:is|was|are|were|'s)\s+(?:\w+\s+){0,3}?\w+'s\s"
            r"|" + _LEAD + r"who\s+(?:is|was|are|were|'s)\s+(?:\w+\s+){0,4}?"
            r"(?:" + _PERSON_NOUNS + r")\b"
            r"|\bby\s+(?:who|whom)\b"
            r"|\b(?:who|whom)\s*$"
            r"|\b(?:what|which)\s+(?:" + _PERSON_NOUNS + r")\b"
            r"|\bwho\s+(?:invented|founded|created|discovered|wrote|painted|composed|designed|"
            r"built|killed|won|directed|led|leads|runs|owns|started|developed|coined)\b",
            needs=("who", *_PERSON_NOUNS.split("|")),
        ),
    ),
    (
        PLACE,
        lazy(
            _LEAD + r"where\b"
            r"|\bwhere\s*$"
            r"|\b(?:in|from|to|at|near)\s+(?:what|which)\s+(?:" + _PLACE_NOUNS + r")\b"
            r"|\b(?:what|which)\s+(?:" + _PLACE_NOUNS + r")\b"
            r"|\b(?:what|whats|what's)\s+(?:is\s+|was\s+)?the\s+capital\s+of\b",
            needs=("where", "capital", *_PLACE_NOUNS.split("|")),
        ),
    ),
)
_SPACE = lazy(r"\s+")
_TRAILING_PUNCT = lazy(r"[\s?!.]+$")


# Question words as chat spells them ("wen was it built", "hw many").
_CHAT_WORDS = {
    "wen": "when",
    "wat": "what",
    "wut": "what",
    "wht": "what",
    "hw": "how",
    "whr": "where",
    "wher": "where",
    "wich": "which",
    "whos": "who is",
}
_CHAT = lazy(r"\b(?:" + "|".join(_CHAT_WORDS) + r")\b", re.I, needs=tuple(_CHAT_WORDS))


def unchat(question: str) -> str:
    """`question` with chat spellings of question words written out."""
    if not _CHAT.may_match(fold(question)):
        return question
    return _CHAT.sub(lambda m: _CHAT_WORDS[m.group().casefold()], question)


def question_kind(question: str) -> str | None:
    """The kind of answer `question` asks for ("date", "number", "person", "place") or None.

    Only an unambiguous cue counts; when several appear ("how many people died when ..."), the
    one that comes first in the question wins, since the question word leads the sentence.
    """
    q = _SPACE.sub(" ", unchat(question).casefold().replace("’", "'")).strip()
    q = _TRAILING_PUNCT.sub("", q)
    if not q or len(q) > 1000:  # a question is a sentence, not a document
        return None
    best: tuple[int, str] | None = None
    folded = fold(q)
    for kind, pattern in _QUESTION_CUES:
        if not pattern.may_match(folded):
            continue
        m = pattern.search(q)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), kind)
    return best[1] if best else None


# ---------------------------------------------------------------------------------------------
# Answer spans
# ---------------------------------------------------------------------------------------------

_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_YEAR = r"(?:1\d{3}|20\d{2})"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_ORDINAL_WORDS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    "thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
    "twenty-first|twenty first"
)
# A number never glued to letters, digits or a decimal point on either side ("R1", "H800" and
# "3.5" in "Sonnet 3.5" are names; "1,000" is a number, not "1" and "000").
_NOT_AFTER = r"(?<![\w.,$€£¥-])"
_NOT_BEFORE = r"(?![\w%]|[.,]\d)"

_DATE = lazy(
    # Monday, January 20, 2025 / January 20, 2025 / January 20 / January 2025
    rf"\b(?:(?:{_WEEKDAYS}),?\s+)?(?:{_MONTHS})\.?\s+{_DAY}\b(?:,?\s+{_YEAR}\b)?"
    rf"|\b(?:(?:early|mid|late)[-\s])?(?:{_MONTHS}|[Ss]pring|[Ss]ummer|[Aa]utumn|[Ff]all|"
    rf"[Ww]inter)\.?\s+(?:of\s+)?{_YEAR}\b"
    # 20 January 2025 / 20th of January 2025 / 20 January
    rf"|(?<![\w.,]){_DAY}\s+(?:of\s+)?(?:{_MONTHS})\b\.?(?:,?\s+{_YEAR}\b)?"
    # 2025-01-20, 20/01/2025
    r"|(?<![\w.,/-])(?:1\d{3}|20\d{2})-(?:0[1-9]|1[0-2])-(?:[0-2]\d|3[01])(?![\w-])"
    r"|(?<![\w.,/-])\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})(?![\w/])"
    # 1990s, the '90s, mid-1990s
    r"|(?<![\w.,$])(?:(?:early|mid|late)[-\s])?(?:1\d|20)\d0s\b"
    # the 18th century, 18th-century, the nineteenth century BC
    rf"|\b(?:(?:early|mid|late)[-\s])?(?:\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_WORDS})"
    r"[-\s]century\b(?:\s+(?:BC|BCE|AD|CE)\b)?"
    # 500 BC, AD 1066
    r"|(?<![\w.,$])\d{1,4}\s+(?:BC|BCE|AD|CE|B\.C\.|A\.D\.)(?!\w)"
    r"|\b(?:AD|A\.D\.)\s+\d{1,4}\b"
    # a bare year, not an amount ("2000 people", "1500 km", "$2025") and not part of a number;
    # an early one after "in" ("in 692")
    rf"|(?:{_NOT_AFTER}{_YEAR}|(?<=\b[Ii]n\s)[1-9]\d{{2}}){_NOT_BEFORE}"
    r"(?!\s*(?:%|percent|per\s+cent|km|kilomet|miles?\b|metres|meters|feet|ft\b|kg\b|"
    r"tonnes|tons|people|persons|inhabitants|residents|employees|members|soldiers|"
    r"troops|men\b|women\b|students|units|copies|votes|hectares|acres|square|sq\b|"
    r"million|billion|thousand|hundred|times|x\b)"
    # "2048 GPUs", "1500 cars": a count of something plural, not a year
    r"|\s+(?!(?:was|has|is|as|its|this|his|thus|whereas|unless|less|across)\b)[A-Za-z]+s\b)"
)

_SCALE = r"(?:hundred|thousand|million|billion|trillion|bn|mn|m|k|crore|lakh)"
_UNITS = (
    r"(?:%|percent\b|per\s+cent\b|percentage\s+points?\b|"
    r"(?:square\s+|sq\.?\s+|cubic\s+)?(?:kilomet(?:re|er)s?|km2|km²|km|miles?|mi\b|"
    r"met(?:re|er)s?|m\b|m2|m²|centimet(?:re|er)s?|cm|millimet(?:re|er)s?|mm|feet|foot|ft|"
    r"inches|inch|yards?|hectares?|ha\b|acres?)|"
    r"kilograms?|kg|grams?|g\b|tonnes?|tons?|pounds?|lbs?|ounces?|oz|"
    r"litres?|liters?|gallons?|"
    r"years?|months?|weeks?|days?|hours?|minutes?|seconds?|"
    r"°\s?[CF]|degrees?(?:\s+(?:Celsius|Fahrenheit))?|"
    r"mph|km/h|knots?|watts?|kW|MW|GW|volts?|"
    r"people|persons|inhabitants|residents|employees|members|"
    r"dollars|euros|pounds\s+sterling|yen|yuan|rupees|francs|"
    r"times|fold|x\b)"
)
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBER_WORD = (
    r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety)(?:[-\s](?:one|two|three|four|five|six|seven|eight|nine))?"
)
_NUMBER = lazy(
    # Money: $5.6 million, US$ 2bn, €300, £1.2 billion
    rf"(?:\b(?:US|USD|A|C|HK|NZ)\s?)?[$€£¥₹]\s?{_DIGITS}(?:\s?{_SCALE}\b)?"
    # Digits with an optional scale and unit: 2,500 km, 60%, 1.2 million people, 5 years
    rf"|{_NOT_AFTER}{_DIGITS}(?:\s?{_SCALE}\b)?(?:\s?{_UNITS})?(?![\w.,]\d)(?!\w)"
    # Words: three thousand, twenty-five, a dozen, one million, hundreds of thousands
    rf"|\b(?:{_NUMBER_WORD}|one|a|an)\s+(?:hundred|thousand|million|billion|trillion)"
    rf"(?:\s+(?:{_NUMBER_WORD}|and\s+{_NUMBER_WORD}))?\b(?:\s+{_UNITS})?"
    r"|\b(?:a\s+|half\s+a\s+)?dozen\b"
    rf"|\b(?:tens|hundreds|thousands|millions|billions)\s+of\s+(?:thousands|millions)?\b"
    rf"|\b{_NUMBER_WORD}\b(?:\s+{_UNITS})?",
    re.IGNORECASE,
)
_LABEL_BEFORE = lazy(
    r"\b(?:version|v|model|no|number|chapter|page|episode|season|phase|level|type|class|"
    r"grade|route|highway|section|article|part|book|volume|vol|step|round|game)\.?\s+$",
    re.IGNORECASE,
)

# Digits that look like a year but count something: "1000 citizens", "2048 GPUs" (a plural, not
# "census", "status" or "basis").
_PLAIN_YEAR = lazy(_YEAR)
_COUNT_AFTER = lazy(
    r"\s+(?!(?:was|has|as|its|this|his|thus|whereas|unless|less|across|does|goes)\b)"
    r"(?:[A-Za-z]*[^\Wsui\d_]s|[A-Z]+s)\b"
)

# Capitalised words: letters, inner apostrophes and hyphens ("O'Brien", "Jean-Paul"), or an
# initial ("J."). Runs are joined in Python, so no pattern here can backtrack over a run.
# The lookbehind follows the first letter so that `re` can skip ahead to capitals quickly.
_CAP_WORD = lazy(
    r"[A-Z](?<![\w'’-].)(?>\.(?=\s)|[^\W\d_]*(?:['’][A-Z][^\W\d_]*|-[A-Za-z][^\W\d_]*)*)(?!\d)"
)
_PARTICLES = frozenset("de da di del della der den van von la le du bin ibn al dos das y".split())
_SENTENCE_START = lazy(r"(?:^|[.!?…:;]\s+|[\"“‘(\[]\s*|\n\s*)$")
_STARTERS = frozenset(
    """
    the a an this that these those in on at by for from with after before during when while
    as if but and or so yet however although though since because his her their its our my
    your he she it they we i there here some many most several all both each every one two
    according unlike like despite following meanwhile today yesterday earlier later then also
    what which who where why how
    """.split()
)
_MONTH_WORDS = frozenset((_MONTHS + "|" + _WEEKDAYS).casefold().split("|")) | frozenset({"may"})
# Words that end or make an organisation, a place or a thing, never a person's name.
_NOT_PERSON = frozenset(
    """
    university college school institute academy company corporation corp inc ltd llc plc co
    group party church cathedral museum hospital council committee commission agency bank
    ministry department office army navy force forces league union association society
    foundation fund club team times post journal news press review street road avenue
    square bridge river lake sea ocean mountain mountains mount island islands valley city
    county province state states kingdom republic empire federation airport station park
    north south east west northern southern eastern western central united national
    international american chinese british french german english european asian african
    russian japanese indian italian spanish canadian australian soviet islamic christian
    muslim jewish catholic protestant french dutch swiss greek roman arab arabic persian
    latin hebrew norman korean irish scottish welsh turkish polish ai api gpu cpu ceo cto
    war battle revolution act treaty award prize cup championship olympics festival
    series season episode album film movie book novel song game games
    """.split()
)
_PERSON_TITLES = frozenset(
    "mr mrs ms dr prof sir dame lord lady king queen president prince princess saint st "
    "pope emperor general captain senator governor judge justice bishop rev duke earl "
    "count countess baron chancellor chairman minister".split()
)
# CamelCase names are products and companies (DeepSeek, OpenAI, YouTube), except for
# surname prefixes (LeCun, McCartney, DiCaprio, MacArthur, O'Brien).
_CAMEL = lazy(r"[a-z][A-Z]")
_SURNAME_PREFIX = lazy(r"^(?:Mc|Mac|Le|La|De|Di|Da|Du|Van|Von)[A-Z][a-z]+$")
_ACRONYM = lazy(r"^[A-Z]{2,}s?$")

_COUNTRIES = frozenset(
    """
    afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan
    bahamas bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia
    botswana brazil brunei bulgaria burma burundi cambodia cameroon canada chad chile china
    colombia comoros congo croatia cuba cyprus czechia czechoslovakia denmark djibouti dominica
    ecuador egypt england eritrea estonia eswatini ethiopia fiji finland france gabon gambia
    georgia germany ghana greece grenada guatemala guinea guyana haiti honduras hungary iceland
    india indonesia iran iraq ireland israel italy jamaica japan jordan kazakhstan kenya
    kiribati korea kosovo kuwait kyrgyzstan laos latvia lebanon lesotho liberia libya
    liechtenstein lithuania luxembourg madagascar malawi malaysia maldives mali malta
    mauritania mauritius mexico micronesia moldova monaco mongolia montenegro morocco
    mozambique myanmar namibia nauru nepal netherlands nicaragua niger nigeria norway oman
    pakistan palau palestine panama paraguay persia peru philippines poland portugal prussia
    qatar romania russia rwanda samoa scotland senegal serbia seychelles singapore slovakia
    slovenia somalia spain sudan suriname sweden switzerland syria taiwan tajikistan tanzania
    thailand togo tonga tunisia turkey turkmenistan tuvalu uganda ukraine uruguay uzbekistan
    vanuatu vatican venezuela vietnam wales yemen yugoslavia zambia zimbabwe
    africa america antarctica asia europe oceania arctic
    """.split()
)
_COUNTRY_PHRASES = lazy(
    r"(?:United\s+States(?:\s+of\s+America)?|United\s+Kingdom|Soviet\s+Union|"
    r"South\s+Africa|South\s+Korea|North\s+Korea|New\s+Zealand|Saudi\s+Arabia|Sri\s+Lanka|"
    r"Costa\s+Rica|Puerto\s+Rico|Hong\s+Kong|El\s+Salvador|Ivory\s+Coast|"
    r"Czech\s+Republic|Dominican\s+Republic|United\s+Arab\s+Emirates|"
    r"(?:North|South|Central|Latin)\s+America|Middle\s+East|Silicon\s+Valley)\b"
)
# Words after a name that say it is a place ("Springfield County", "Lake Geneva" is handled by
# the run itself), and prepositions before one.
_PLACE_WORDS = frozenset(
    """
    city town village county province state region district island islands river lake
    mountains mount valley bay coast peninsula desert forest borough parish prefecture
    municipality canton oblast department republic kingdom
    """.split()
)
_PLACE_PREPOSITION = lazy(
    r"(?:\b(?:in|at|near|from|outside|across|throughout|to|into|towards?|around)"
    r"|\b(?:capital|city|town|village|outskirts|north|south|east|west|province|state|region|"
    r"county|centre|center|part|coast|island|suburb|borough|municipality)\s+of)"
    r"\s+(?:the\s+)?$"
)
# "X of Y" names: a capitalised word, "of", maybe "the", then the run.
_OF_NAME = lazy(r"[A-Z][^\W\d_]*\s+of\s+(?:the\s+)?$")
_POSSESSIVE_NAME = lazy(r"['’]s\s+[A-Z]")
_WEAK_PREPOSITIONS = frozenset({"at", "from", "to", "into", "toward", "towards", "around"})
_PLACE_AFTER = lazy(
    r"^(?:,\s+(?P<country>[A-Z][^\W\d_]+(?:\s+[A-Z][^\W\d_]+)?)"
    r"|\s+(?:city|town|village|county|province|state|region|district|island|river|lake)\b)"
)


# Where a date or an amount may begin: digit runs, currency signs and words. Matching the big
# patterns only there, instead of trying a dozen alternatives at every character, makes a
# scan several times faster (patterns that open with a lookbehind get no fast skip in `re`).
_STARTS = lazy(r"[0-9]+|[$€£¥₹]|[A-Za-z]+")
_DATE_WORDS = (
    frozenset(
        (_MONTHS + "|" + _WEEKDAYS + "|" + _ORDINAL_WORDS)
        .replace("twenty first", "twenty")
        .split("|")
    )
    | frozenset(
        "spring summer autumn fall winter early mid late AD A Spring Summer Autumn Fall Winter "
        "Early Mid Late".split()
    )
    | frozenset(w.capitalize() for w in _ORDINAL_WORDS.split("|"))
)
_NUMBER_WORDS = frozenset(
    """
    one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    a an half dozen tens hundreds thousands millions billions US USD A C HK NZ
    """.split()
)
_NUMBER_WORDS = _NUMBER_WORDS | frozenset(w.capitalize() for w in _NUMBER_WORDS)


def _scan(text: str, pattern: Lazy, words: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of `pattern` matched only where a digit run, a currency sign or one of `words`
    begins; a match hides the starts inside it."""
    found: list[tuple[int, int]] = []
    covered = 0
    for s in _STARTS.finditer(text):
        start = s.start()
        if start < covered:
            continue
        token = s.group()
        if not token[0].isdigit() and token[0] not in "$€£¥₹" and token not in words:
            continue
        m = pattern.match(text, start)
        if m and m.end() > start:
            found.append(m.span())
            covered = m.end()
    return found


def answer_spans(text: str, kind: str, question: str = "") -> list[tuple[int, int]]:
    """Character spans of `text` that could answer a question of `kind`, in order and
    non-overlapping. `question` lets person and place spans leave out the names the question
    itself mentions ("who founded DeepSeek" is not answered by "DeepSeek")."""
    if kind == DATE:
        return _spans(_scan(text, _DATE, _DATE_WORDS))
    if kind == NUMBER:
        return _number_spans(text)
    if kind == PERSON:
        return _spans(_person_spans(text, _question_words(question)))
    if kind == PLACE:
        return _spans(_place_spans(text, _question_words(question)))
    raise ValueError(f"unknown answer kind {kind!r}; expected one of {', '.join(KINDS)}")


def _spans(found: Iterator[tuple[int, int]] | list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, empty spans and overlaps dropped (the earlier span wins)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if end <= start:
            continue
        if out and start < out[-1][1]:
            continue
        out.append((start, end))
    return out


def _number_spans(text: str) -> list[tuple[int, int]]:
    """Amounts, not years or dates: "in 2020" and "January 20" are no answer to "how many"."""
    dates = _scan(text, _DATE, _DATE_WORDS)
    found = []
    for start, end in _scan(text, _NUMBER, _NUMBER_WORDS):
        while end > start and text[end - 1] in " \t,.":
            end -= 1
        if _PLAIN_YEAR.fullmatch(text, start, end) and not _COUNT_AFTER.match(text, end):
            continue  # a bare year is a date ("the 2010 census"), "1000 citizens" a count
        if any(s <= start and end <= e for s, e in dates):
            continue
        if _LABEL_BEFORE.search(text, max(0, start - 12), start):
            continue  # "version 3", "Chapter 7": a label, not an amount
        found.append((start, end))
    return _spans(found)


def _question_words(question: str) -> frozenset[str]:
    return frozenset(w.casefold() for w in re.findall(r"[^\W\d_]+", question))


def _cap_runs(text: str) -> Iterator[list[re.Match[str]]]:
    """Runs of capitalised words joined by single spaces or name particles ("Vincent van
    Gogh", "J. R. R. Tolkien"); a possessive "'s" ends a run."""
    run: list[re.Match[str]] = []
    for m in _CAP_WORD.finditer(text):
        if run:
            gap = text[run[-1].end() : m.start()]
            joined = gap == " " or (
                gap.startswith(" ")
                and gap.endswith(" ")
                and gap.strip() in _PARTICLES
                and run[-1].group()[-1] != "."
            )
            possessive = text.startswith(("'s", "’s"), run[-1].end())
            if joined and not possessive:
                run.append(m)
                continue
            yield run
        run = [m]
    if run:
        yield run


def _at_sentence_start(text: str, start: int) -> bool:
    return start == 0 or bool(_SENTENCE_START.search(text, max(0, start - 3), start))


def _trimmed(text: str, run: list[re.Match[str]]) -> tuple[int, int, list[str]]:
    """A run without its leading sentence openers, months and titles, as (start, end, words);
    words is empty when nothing is left."""
    i = 0
    while i < len(run):
        w = run[i].group().rstrip(".").casefold()
        leading = w in _STARTERS and (w in {"the", "a"} or _at_sentence_start(text, run[i].start()))
        if not (leading or w in _MONTH_WORDS or w in _PERSON_TITLES):
            break
        i += 1
    if i == len(run):
        return run[-1].end(), run[-1].end(), []
    return run[i].start(), run[-1].end(), [m.group() for m in run[i:]]


def _product_like(word: str) -> bool:
    """CamelCase (DeepSeek, OpenAI) and acronyms (NASA, GPU) name things, not people."""
    if _ACRONYM.match(word):
        return True
    return bool(_CAMEL.search(word)) and not _SURNAME_PREFIX.match(word)


def _name_runs(
    text: str, asked: frozenset[str]
) -> Iterator[tuple[int, int, int, list[str], list[str]]]:
    """Capitalised runs that could be a name: trimmed of openers, not only words the question
    holds, no month or weekday, no product or acronym. Yields (run start, start, end, words,
    words case-folded)."""
    for run in _cap_runs(text):
        start, end, words = _trimmed(text, run)
        if not words:
            continue
        folded = [w.rstrip(".").casefold() for w in words]
        if all(w in asked or w in _PARTICLES for w in folded):
            continue
        if any(w in _MONTH_WORDS for w in folded) or any(_product_like(w) for w in words):
            continue
        yield run[0].start(), start, end, words, folded


def _person_spans(text: str, asked: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Names of two or more capitalised words ("Yann LeCun", "Vincent van Gogh"); a single
    word only after a title ("King Harold") or as the surname of a full name found in the same
    text. Anything that looks like an organisation, a place or a product is left out."""
    candidates: list[tuple[int, int, list[str], bool]] = []
    for run_start, start, end, words, folded in _name_runs(text, asked):
        sentence_start = _at_sentence_start(text, run_start)
        if any(w in _NOT_PERSON or w in _COUNTRIES for w in folded):
            continue
        before = text[max(0, run_start - 30) : run_start]
        titled = _titled(text[max(0, start - 30) : start])
        if _OF_NAME.search(before):
            continue  # "Battle of Hastings", "Duke of Normandy": part of a longer name
        if _PLACE_PREPOSITION.search(before) and not titled:
            continue  # "in Springfield", "from Paris": a place, not a person
        if _country_follows(text, end):
            continue  # "Paris, France"
        if _POSSESSIVE_NAME.match(text, end):
            continue  # "St Mary's Hospital": the run names a thing
        lone = len(words) == 1 and (sentence_start or len(words[0]) < 3 or words[0].endswith("."))
        if lone and not titled:
            continue  # a sentence's first word, or an initial
        candidates.append((start, end, words, titled))
    surnames = {words[-1] for _, _, words, _ in candidates if len(words) > 1}
    for start, end, words, titled in candidates:
        if len(words) > 1 or titled or words[0] in surnames:
            yield start, end


def _titled(before: str) -> bool:
    words = before.split()
    return bool(words) and words[-1].rstrip(".").casefold() in _PERSON_TITLES


def _country_follows(text: str, end: int) -> bool:
    m = _PLACE_AFTER.match(text, end)
    return bool(m and m.group("country") and m.group("country").casefold() in _COUNTRIES)


def _place_spans(text: str, asked: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Countries and continents by name; other capitalised runs when a cue says place: a
    preposition before ("in Hangzhou", "north of Leeds"), a place word inside ("Lake Geneva",
    "Orange County") or a country after ("Springfield, Illinois" is not enough; "Lyon,
    France" is)."""
    for m in _COUNTRY_PHRASES.finditer(text):
        if m.start() and text[m.start() - 1].isalnum():
            continue
        if not all(w.casefold() in asked for w in m.group().split()):
            yield m.span()
    for _, start, end, words, folded in _name_runs(text, asked):
        if any(w in _PERSON_TITLES for w in folded):
            continue
        if folded[-1] in _NOT_PERSON and folded[-1] not in _PLACE_WORDS:
            continue  # "Stanford University", "the Communist Party", "English"
        known = len(words) == 1 and folded[0] in _COUNTRIES
        cue_inside = len(words) > 1 and (
            folded[-1] in _PLACE_WORDS or folded[0] in {"lake", "mount", "river", "isle"}
        )
        before = text[max(0, start - 40) : start]
        m = _PLACE_PREPOSITION.search(before)
        cue_before = bool(m) and not _titled(before)
        if cue_before and m.group().split()[0] in _WEAK_PREPOSITIONS:
            # "at Google", "to Meta", "from Microsoft": companies as often as places
            cue_before = len(words) > 1 and not text.startswith(("'s", "’s"), end)
        if known or cue_inside or cue_before or _country_follows(text, end):
            yield start, end


# -- measures: "how tall" wants a length, "how much ... cost" an amount of money -------------

_LENGTH_UNITS = (
    r"(?:k?m|cm|mm|metres?|meters?|kilomet(?:re|er)s?|centimet(?:re|er)s?|ft|feet|foot|inch(?:es)?"
    r"|in\.|miles?|mi|yards?|yd|nmi|nautical miles?)"
)
_TIME_UNITS = r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century)"
_WEIGHT_UNITS = r"(?:kg|g|grams?|kilograms?|tonnes?|tons?|lbs?|pounds?|ounces?|oz)"
_AMOUNT_WORD = (
    r"(?:a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|hundred|several|a few|dozens of|hundreds of|thousands of)"
)
_AMOUNT = (
    # A digit run is tried from its first digit only, and read once (possessive): a run of
    # thousands of digits costs one pass, not one pass per digit.
    rf"(?:(?<![\d,.])\d[\d,.]*+(?:\s*(?:-|–|to)\s*\d[\d,.]*+)?|\b{_AMOUNT_WORD})"
    r"(?:\s*(?:thousand|million|billion))?"
)
_CURRENCY = (
    r"(?:[$€£¥₹]\s?\d|(?<![\d,.])\d[\d,.]*+\s*(?:thousand\s+|million\s+|billion\s+)?"
    r"(?:dollars?|pounds?|"
    r"euros?|yen|francs?|marks?|ducats?|florins?|guilders?|rupees?|pesos?|crowns?|kronor|"
    r"shillings?|cents?|pence|daler|thalers?|talers?|kroner|krona|lire|lira|rubles?|roubles?|"
    r"yuan|renminbi|won|dinars?|dirhams?|riyals?|rand|zlotys?|escudos?|reais|real|"
    r"USD|EUR|GBP)\b)"
)
_MEASURES = {
    "length": lazy(rf"{_AMOUNT}\s*{_LENGTH_UNITS}\b|\b{_AMOUNT}-{_LENGTH_UNITS}\b", re.I),
    "duration": lazy(rf"{_AMOUNT}\s*{_TIME_UNITS}\b|\b{_AMOUNT}-{_TIME_UNITS}\b", re.I),
    "weight": lazy(rf"{_AMOUNT}\s*{_WEIGHT_UNITS}\b", re.I),
    "money": lazy(_CURRENCY, re.I),
    "speed": lazy(
        rf"{_AMOUNT}\s*(?:mph|km/h|kph|kmh|knots?|kn|m/s|ft/s|"
        r"(?:miles|kilomet(?:re|er)s|km|met(?:re|er)s|feet)\s+(?:per|an|a)\s+(?:hour|second))\b"
        r"|\bmach\s+\d",
        re.I,
    ),
    "temperature": lazy(rf"{_AMOUNT}\s*(?:°\s?[CF]\b|degrees?\b)|-?\d+(?:\.\d+)?\s?°", re.I),
    # "how high did it chart": a position, "#31", "number 5", "No. 1", "the 12th"
    "rank": lazy(r"#\s?\d+|\bno\.\s?\d+|\bnumber\s+\d+\b|\b\d+(?:st|nd|rd|th)\b", re.I),
}
_MEASURE_CUES = (
    # "how big was the loan": a sum of money, not a length.
    (
        lazy(
            r"\bhow\s+(?:big|large|small)\b.*\b(?:loan|loans|budget|grant|debt|debts|deal|fund|"
            r"funds|investment|prize|salary|fine|donation|bailout|contract|fortune)\b",
            re.I,
            needs=("how",),
        ),
        ("money",),
    ),
    (lazy(r"\bhow\s+(?:tall|wide|deep|far|big|large)\b", re.I, ("how",)), ("length",)),
    (lazy(r"\bhow\s+high\b", re.I, ("high",)), ("length", "rank")),
    (lazy(r"\bhow\s+long\b", re.I, ("long",)), ("length", "duration")),
    (lazy(r"\bhow\s+old\b", re.I, ("old",)), ("duration",)),
    (lazy(r"\bhow\s+heavy\b", re.I, ("heavy",)), ("weight",)),
    (
        lazy(r"\bhow\s+fast\b|\b(?:top|maximum|max|cruising)\s+speed\b", re.I, ("fast", "speed")),
        ("speed",),
    ),
    (
        lazy(
            r"\b(?:hottest|coldest|warmest|how\s+hot|how\s+cold|temperature)\b",
            re.I,
            ("hot", "cold", "warmest", "temperature"),
        ),
        ("temperature",),
    ),
    (
        lazy(
            r"\bhow\s+much\b.*\b(?:cost|costs|paid|pay|pays|worth|price|spend|spent|earn|earns|"
            r"earned|salary|charge|charges|sell|sold|buy|bought|borrow|borrowed|lend|lent|"
            r"money|funding|funds|invest|invests|invested|investing|raise|raised|revenue|"
            r"profit)\b"
            # "how much is a new hearse": a price
            r"|\bhow\s+much\s+(?:is|are|was|were|does|do)\s+(?:a|an|one)\s+",
            re.I,
            needs=("much",),
        ),
        ("money",),
    ),
)


def measure_kinds(question: str) -> tuple[str, ...]:
    """The measures a "how tall / long / old / much ... cost" question wants, or () when it
    names none (a plain "how many" is any number)."""
    question = unchat(question)
    folded = fold(question)
    for cue, kinds in _MEASURE_CUES:
        if cue.may_match(folded) and cue.search(question):
            return kinds
    return ()


# What "how many" counts: the words after it, up to the verb or preposition that ends the noun
# ("how many oscar nominations did ..." -> "oscar nominations").
_HOW_MANY = lazy(r"\bhow\s+many\s+", re.I)
_COUNT_ENDS = frozenset(
    """
    did does do is are was were has have had can could will would should may might must
    in on at of for per by from with to into there the a an this that these those it its
    they he she we you i his her their our your
    """.split()
)
MAX_COUNTED_WORDS = 3


def counted_words(question: str) -> str:
    """The thing a "how many" question counts ("moons" in "how many moons does Jupiter
    have"), or "": an answer gives the number *of that*, so a passage that never mentions it
    (nor any word of it) cannot answer, whatever numbers it holds."""
    question = unchat(question)
    m = _HOW_MANY.search(question)
    if m is None:
        return ""
    words = []
    for word in question[m.end() : m.end() + 200].split():
        plain = word.strip("?!.,;:\"'()").casefold()
        if not plain or plain in _COUNT_ENDS or len(words) == MAX_COUNTED_WORDS:
            break
        words.append(plain)
        if word[-1] in "?!.,;:":
            break
    return " ".join(words)


def has_measure(text: str, kinds: tuple[str, ...]) -> bool:
    """Whether `text` gives a measure of one of these kinds (a number with its unit)."""
    return any(_MEASURES[kind].search(text) for kind in kinds)


# -- words an answer uses that its question does not ------------------------------------------
# "where was X from" is answered by "born in"; "who were X's parents" by "son of". Each pattern
# adds the answer's words to the search and to proximity and coverage, weighted down
# (`retrieval.rerank`); they never make a passage cover more than all of the question.
_ANSWER_WORD_PATTERNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (r"\bwhere\b.*\b(?:from|grow\s+up|raised)\b", "born native", ("where",)),
    (r"\bparents?\b|\bfather\b|\bmother\b", "son daughter born", ("parent", "father", "mother")),
    (
        r"\b(?:children|kids|sons|daughters)\b",
        "son daughter children",
        ("children", "kids", "sons", "daughters"),
    ),
    (
        r"\b(?:nickname|other\s+name|another\s+name|also\s+called)\b",
        "known called",
        ("name", "called"),
    ),
    (r"\bname\b.*\bbefore\b", "born known called", ("before",)),
    (r"\bwhat\s+does\b.*\bmean\b|\bmeaning\b", "means name derived", ("mean",)),
    (
        r"\b(?:who|when)\b.*\b(?:invented|came\s+up\s+with|first\s+used)\b",
        "coined introduced invented",
        ("invented", "came", "first"),
    ),
    (r"\bwhen\b.*\b(?:die|died|death)\b", "died death", ("die", "death")),
    (r"\bwhen\b.*\b(?:born|birth)\b", "born birth", ("born", "birth")),
    (
        r"\bhow\s+much\b.*\b(?:cost|costs|price|pay|paid|invest|investing|putting)\b"
        r"|\bhow\s+much\s+(?:is|are|was|were|does|do)\s+(?:a|an|one)\s+",
        "spent spend paid invested investment cost",
        ("much",),
    ),
    # A measure is written as its noun ("stands 50 m in height"), seldom as the question's
    # adjective.
    (r"\bhow\s+(?:tall|high)\b", "height high", ("how",)),
    (r"\babove\s+sea\s+level\b", "elevation altitude", ("level",)),
    (r"\bhow\s+long\b(?!\s+ago)", "length", ("long",)),
    (r"\bhow\s+(?:big|large)\b", "area size", ("how",)),
    (r"\bhow\s+old\b", "age aged", ("old",)),
    (r"\bhow\s+far\b", "distance", ("far",)),
    (r"\bhow\s+deep\b", "depth", ("deep",)),
    (r"\bhow\s+heavy\b", "weight weighs", ("heavy",)),
    (
        r"\b(?:hottest|coldest|how\s+hot|how\s+cold|warmest)\b",
        "temperature record maximum minimum",
        ("hot", "cold", "warmest"),
    ),
    (r"\bhow\s+many\s+people\s+live\b", "population inhabitants", ("live",)),
    (r"\b(?:buried|burial|grave)\b", "tomb buried cemetery grave", ("buri", "grave")),
    (
        r"\b(?:married|wife|husband|spouse)\b",
        "married wife husband",
        ("married", "wife", "husband", "spouse"),
    ),
)


# Chat's phrasal verbs, which articles write as one word: "when did they put out R1" asks when
# R1 was released. The verb is not content ("put" matches passages about putting).
_PHRASAL_VERBS = (
    # (the phrasal verb, the verb articles use, other words they use for it)
    (
        r"\b(?:put|puts|putting|came|come|comes|coming|rolled|roll|rolls)\s+out\b",
        "released",
        "launched",
        ("out",),
    ),
    (r"\b(?:set|sets|setting)\s+up\b", "founded", "established created", ("up",)),
    (r"\b(?:took|take|takes|taking|taken)\s+over\b", "acquired", "controlled", ("over",)),
    (r"\b(?:shut|shuts|shutting)\s+down\b", "closed", "", ("down",)),
    (r"\b(?:find|finds|found)\s+out\b", "discovered", "learned", ("out",)),
    (r"\b(?:move|moved|moves|moving)\s+away\b", "shifted", "abandoned", ("away",)),
    (r"\b(?:give|gave|gives|giving)\s+up\b", "abandoned", "", ("up",)),
    (
        r"\b(?:go|goes|going|went|gone|come|comes|coming|came)\s+back\b",
        "return",
        "revisit returned",
        ("back",),
    ),
)
_PHRASAL = tuple((lazy(pattern, re.I, needs), verb) for pattern, verb, _, needs in _PHRASAL_VERBS)

_ANSWER_WORDS = tuple(
    (lazy(pattern, re.I, needs), words)
    for pattern, words, needs in (
        *_ANSWER_WORD_PATTERNS,
        *((pattern, others, needs) for pattern, _, others, needs in _PHRASAL_VERBS if others),
    )
)


def formal(question: str) -> str:
    """`question` with chat's phrasal verbs written as the verb articles use ("put out":
    "released"), so that the question's terms are what it asks."""
    folded = fold(question)
    for pattern, verb in _PHRASAL:
        if pattern.may_match(folded):
            changed = pattern.sub(verb, question)
            if changed != question:
                question, folded = changed, fold(changed)
    return question


def answer_words(question: str) -> str:
    """Words an answer to `question` typically uses and the question does not ("born" for
    "where is X from"), as text to analyse; "" when no pattern applies."""
    question = unchat(question)
    folded = fold(question)
    return " ".join(
        words
        for pattern, words in _ANSWER_WORDS
        if pattern.may_match(folded) and pattern.search(question)
    )
