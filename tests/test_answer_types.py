"""Answer types: which kind of answer a chat question wants, and where a sentence holds one.

The sentences are real: from the bundled articles (seeds/) and from Wikipedia prose.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval import answer_types
from retrieval.answer_types import answer_spans, has_measure, measure_kinds, question_kind
from retrieval.patterns import Lazy, fold

R1_RELEASE = (
    "By releasing its R1 model on January 20, 2025—the same day Donald Trump was inaugurated "
    "for his second term—DeepSeek has positioned itself as a formidable player on the global "
    "stage, bringing open-source AI technology to the forefront."
)
STARGATE = (
    "In response, the US government has initiated the Stargate Project, pledging $500 billion "
    "over the next four years to fortify AI infrastructure, underscoring the need to maintain "
    "America’s competitive edge."
)
FLEMING = "Penicillin was discovered in 1928 by Alexander Fleming at St Mary's Hospital in London."
LECUN = (
    "Meta’s chief AI scientist, Yann LeCun, noted the value of open-source models following "
    "DeepSeek's launch."
)


def texts(text: str, kind: str, question: str = "") -> list[str]:
    return [text[s:e] for s, e in answer_spans(text, kind, question)]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("when was r1 released", "date"),
        ("whats the life expectancy in kenya", "number"),
        ("whats the top speed of a kc-135", "number"),
        ("when did deepseek release r1?", "date"),
        ("what year did deepseek release v3", "date"),
        ("in what year was the treaty of paris signed", "date"),
        ("which year did he die", "date"),
        ("since when has the company existed", "date"),
        ("how long ago did the dinosaurs die out", "date"),
        ("ok so when did it open", "date"),
        ("how many gpus did deepseek use", "number"),
        ("how much will the stargate project cost", "number"),
        ("how long is the river", "number"),
        ("how old was mozart when he died", "number"),
        ("what percentage of voters turned out", "number"),
        ("whats the population of leeds", "number"),
        ("what is the cost of training r1", "number"),
        ("who founded deepseek", "person"),
        ("who was the first president of pakistan", "person"),
        ("who was elected mayor in 1990", "person"),
        ("who is meta's chief ai scientist", "person"),  # a role: a name answers
        ("the company was founded by whom", "person"),
        ("which scientist discovered penicillin", "person"),
        ("whose idea was the stargate project", "person"),
        ("where is the eiffel tower", "place"),
        ("in which city was he born", "place"),
        ("what country is deepseek from", "place"),
        ("what is the capital of france", "place"),
    ],
)
def test_question_kind_from_the_question_word(question, kind):
    assert question_kind(question) == kind


@pytest.mark.parametrize(
    "question",
    [
        # No unambiguous cue: a wrong kind would push the right passage down.
        "what gpus did deepseek use",
        "how did deepseek train v3 so cheaply",
        "why did us tech stocks drop",
        "what happened when deepseek launched",  # "when" not leading: not a date question
        "who is yann lecun",  # asks for a description, not a name
        "what is deepseek",
        "",
        "?",
    ],
)
def test_question_kind_none_without_a_clear_cue(question):
    assert question_kind(question) is None


def test_earliest_cue_wins():
    assert question_kind("how many people died when the dam broke") == "number"
    assert question_kind("when did the population of leeds pass a million") == "date"


def test_dates_in_the_forms_articles_write_them():
    assert texts(R1_RELEASE, "date") == ["January 20, 2025"]
    born = (
        "He was born in Springfield, Illinois, on 20 March 1901 and built an 18th-century "
        "style house in the 1930s."
    )
    assert texts(born, "date") == ["20 March 1901", "18th-century", "1930s"]
    assert texts("The Battle of Hastings was fought in 1066 AD.", "date") == ["1066 AD"]
    assert texts("Work resumed in the late 1990s and ended in spring 2004.", "date") == [
        "late 1990s",
        "spring 2004",
    ]


def test_dates_leave_out_amounts_names_and_modal_may():
    text = (
        "DeepSeek's R1 ran on 2048 GPUs, cost $2025 and beat GPT-4o; it may rain in May, "
        "and 1500 km of road were built."
    )
    assert texts(text, "date") == []


def test_numbers_and_amounts():
    text = (
        "DeepSeek reportedly spent only $5.6 million to develop its version 3 model, using "
        "2,048 Nvidia H800 GPUs over two months."
    )
    # "version 3" is a label, "H800" a name: neither is an amount.
    assert texts(text, "number") == ["$5.6 million", "2,048", "two months"]
    assert texts(STARGATE, "number") == ["$500 billion", "four years"]
    census = (
        "The town had a population of 12,345 at the 2010 census and lies 25 km north of "
        "Leeds; 60% of residents commute."
    )
    # The census year is a date, not an answer to "how many".
    assert texts(census, "number") == ["12,345", "25 km", "60%"]
    # A four-digit count of something is a count, though it could be read as a year.
    assert texts("At least 1000 citizens may call a referendum in 1921.", "number") == ["1000"]
    assert texts("Three thousand soldiers left in May 1588; a dozen returned.", "number") == [
        "Three thousand",
        "a dozen",
    ]


def test_persons_are_names_not_companies_places_or_the_question():
    assert texts(LECUN, "person") == ["Yann LeCun"]
    assert texts(R1_RELEASE, "person") == ["Donald Trump"]
    assert texts(FLEMING, "person") == ["Alexander Fleming"]
    hastings = (
        "The Battle of Hastings was fought between the Norman-French army of William, the Duke "
        "of Normandy, and an English army under King Harold Godwinson."
    )
    assert texts(hastings, "person") == ["Harold Godwinson"]
    founder = "OpenAI and Google invested billions, while Liang Wenfeng founded DeepSeek."
    assert texts(founder, "person", "who founded deepseek") == ["Liang Wenfeng"]
    # A name the question already holds is not its answer.
    assert texts(founder, "person", "what did liang wenfeng found") == []


def test_places_need_a_cue():
    assert texts(FLEMING, "place") == ["London"]
    born = "He was born in Springfield, Illinois, and died in Paris, France."
    assert texts(born, "place") == ["Springfield", "Paris", "France"]
    assert texts("Liang Wenfeng founded DeepSeek in Hangzhou in 2023.", "place") == ["Hangzhou"]
    # Companies after "at"/"from" are not places; the US is one, by name.
    text = "Engineers from Meta and at Google watched the United States react."
    assert texts(text, "place") == ["United States"]


def test_hostile_text_is_just_text():
    for kind in ("date", "number", "person", "place"):
        assert answer_spans("", kind) == []
        answer_spans("A. " * 5000 + "1" * 5000 + " $" * 5000, kind)
    with pytest.raises(ValueError, match="unknown answer kind"):
        answer_spans("text", "colour")


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("how tall is the arc de triomphe", ("length",)),
        ("how high above sea level is ajmer", ("length", "rank")),
        ("how long is the river", ("length", "duration")),
        ("how old are the oldest figurines", ("duration",)),
        ("how much did the apollo 7 mission cost", ("money",)),
        ("how much money did they borrow", ("money",)),
        ("how many moons does jupiter have", ()),
        ("how much of the budget goes to defence", ()),
        ("how much funding has mistral raised", ("money",)),
        ("how much is a brand new hearse in the us", ("money",)),
        ("how much is left", ()),
        ("how fast is a cheetah", ("speed",)),
        ("whats the top speed of a kc-135", ("speed",)),
        ("whats the hottest it has ever got in gosford", ("temperature",)),
        ("how big was the usaid loan that got kaist started", ("money",)),
        ("how big is the island", ("length",)),
    ],
)
def test_measure_kinds_name_the_unit_a_question_wants(question, kinds) -> None:
    assert measure_kinds(question) == kinds


def test_a_measure_is_a_number_with_its_unit() -> None:
    assert has_measure("It stands 50 m high and 45 m wide.", ("length",))
    assert has_measure("approximately 4802 ft above sea level", ("length",))
    assert has_measure("leases run for up to 99 years", ("duration",))
    assert has_measure("he borrowed 21,000 ducats", ("money",))
    assert has_measure("he was paid 500 daler a year", ("money",))
    assert has_measure("a maximum of 44.8 °C on 18 January 2013", ("temperature",))
    assert has_measure("it can reach 70 miles an hour", ("speed",))
    assert not has_measure("first flown in 1956 at Boeing Field", ("speed",))
    assert has_measure("DeepSeek spent $5.6 million", ("money",))
    assert has_measure("it peaked at #31 on the Billboard Hot 100", ("rank",))
    # A number alone, or a season, is no length and no price.
    assert not has_measure("She turned professional after the 1991–92 season.", ("length",))
    assert not has_measure("The crew of 3 flew 163 orbits.", ("money",))


# -- patterns left uncompiled: a pattern that needs a word the question lacks ------------------

ROOT = Path(__file__).resolve().parent.parent


def _repo_questions() -> list[str]:
    """The questions of the QA sets kept in the repository, and forms of them that `re`
    matches case-insensitively but `str.casefold` spells apart ("ı", "İ")."""
    found: list[str] = []
    for path in sorted((ROOT / "bench" / "qa").glob("*.jsonl")):
        found += [json.loads(line)["question"] for line in path.open() if line.strip()]
    for path in sorted((ROOT / "bench" / "qa").glob("*.tsv")):
        rows = (line.rstrip("\n").split("\t") for line in path.open() if line[:1] != "#")
        found += [row[2] for row in rows if len(row) > 2]
    base = list(dict.fromkeys(found))
    assert len(base) > 500  # the sets are there
    return [
        form
        for q in base
        for form in (q, q.upper(), q.title(), q.replace("i", "ı"), q.replace("i", "İ"))
    ]


def _needing() -> list[tuple[str, Lazy]]:
    out = []
    for name, value in vars(answer_types).items():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            for part in item if isinstance(item, tuple) else (item,):
                if isinstance(part, Lazy) and part.needs:
                    out.append((name, part))
    return out


def test_a_pattern_matches_only_text_that_holds_a_word_it_needs():
    """`needs` lets a question skip compiling a pattern; it must never skip one that would
    have matched, whatever the case or the letters `re` folds together."""
    patterns = _needing()
    assert len(patterns) >= 40
    for question in _repo_questions():
        for text in (question, question.casefold(), answer_types.unchat(question)):
            folded = fold(text)
            for name, pattern in patterns:
                if pattern.search(text):
                    assert pattern.may_match(folded), (name, text)


def test_a_question_compiles_only_the_cues_it_may_hold():
    """The cues are large patterns (a few milliseconds each to compile, per process):
    "where ... born" may be a place question, and cannot be a date, number or person one."""
    code = (
        "from retrieval import answer_types as a\n"
        "kind = a.question_kind('where was marie henning born')\n"
        "print(kind, [k for k, p in a._QUESTION_CUES if p._compiled is not None])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.split() == ["place", "['place']"]
