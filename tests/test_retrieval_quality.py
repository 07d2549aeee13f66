"""Retrieval quality: paraphrased team questions must find the right passage in the top 3.

Each case names the bundled article (its source path) and a short substring that identifies the
passage expected among the top 3 hits. The questions are worded the way a team member would ask,
not copied from the articles; they share a few keywords with the passage, as BM25 needs.
Out-of-corpus questions must come back unanswered, with no hits.

Everything runs through the real facade against a fresh SQLite file, with no mocks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.knowledge import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
K = 3

STARGATE = "seeds/000_ae8a852fcb8e2880.txt"
MOVEMENT = "seeds/001_d58e4a4a3f12deff.txt"
LEAP = "seeds/002_2d5ac121eab98ad0.txt"
VALLEY = "seeds/003_7edf549026a98687.txt"
CATALYST = "seeds/004_ab7033b5b594e830.txt"

# (id, question, expected source, substring of the expected passage)
ANSWERABLE = [
    # 000: Will DeepSeek's rise strengthen open-source AI in the United States?
    (
        "stargate-500-billion",
        "How much will the Stargate Project invest in AI infrastructure over four years?",
        STARGATE,
        "$500 billion",
    ),
    (
        "llama3-reinforcement-learning",
        "Which Meta model did DeepSeek build on with reinforcement learning to cut pretraining?",
        STARGATE,
        "Llama 3",
    ),
    # 001: DeepSeek's impact on the open-source AI movement
    (
        "h800-instead-of-h100",
        "What hardware did DeepSeek optimise for instead of the restricted H100 and A100 GPUs?",
        MOVEMENT,
        "Nvidia H800 GPUs",
    ),
    (
        "export-controls-open-source",
        "Can export controls stop open-source AI from spreading?",
        MOVEMENT,
        "not subject to these controls",
    ),
    (
        "privacy-data-handling",
        "What privacy worries are there about how DeepSeek handles user data?",
        MOVEMENT,
        "data handling practices",
    ),
    (
        "security-misuse",
        "Could bad actors use DeepSeek for deepfakes or cyberattacks?",
        MOVEMENT,
        "AI-driven cyberattacks",
    ),
    (
        "linux-comparison",
        "How is DeepSeek's community-driven collaboration like Linux?",
        MOVEMENT,
        "success of Linux",
    ),
    # 002: China's AI leap: DeepSeek challenges US dominance
    (
        "v3-cost-5.6-million",
        "How much did DeepSeek spend developing version 3?",
        LEAP,
        "$5.6 million",
    ),
    (
        "beats-gpt-4o",
        "Did DeepSeek's model beat GPT-4o and Claude on coding and math tests?",
        LEAP,
        "GPT-4o",
    ),
    (
        "r1-vs-o1",
        "Does R1 do better than OpenAI's o1 at reasoning?",
        LEAP,
        "O1 in certain third-party",
    ),
    (
        "chips-vs-restrictions",
        "Which Nvidia chips let DeepSeek get around the US semiconductor restrictions?",
        LEAP,
        "H800s",
    ),
    # 003: Silicon Valley reels from DeepSeek
    (
        "r1-inauguration-day",
        "Was R1 released on the same day as Trump's inauguration?",
        VALLEY,
        "January 20, 2025",
    ),
    (
        "zuckerberg-60-billion",
        "How much is Zuckerberg planning to spend on AI next year?",
        VALLEY,
        "$60 billion",
    ),
    (
        "lecun-open-vs-proprietary",
        "What did LeCun say about open-source models versus proprietary ones?",
        VALLEY,
        "surpassing proprietary ones",
    ),
    # 004: China's DeepSeek R1: a catalyst for global AI competition
    (
        "trillion-sell-off",
        "How much value did US tech stocks lose when R1 was announced?",
        CATALYST,
        "staggering $1 trillion sell-off",
    ),
    (
        "mistral-europe",
        "Who in Europe has released a reasoning model of its own?",
        CATALYST,
        "Mistral AI",
    ),
    (
        "censorship-global-markets",
        "How could China's internet censorship limit its AI models in global markets?",
        CATALYST,
        "strict internet censorship",
    ),
]

ANSWERABLE += [
    (
        "r1-day-trump-took-office",
        "Did DeepSeek launch its model on the day Trump took office?",
        VALLEY,
        "January 20, 2025",
    ),
    (
        "mistral-french-startup",
        "Which French startup has put out a reasoning language model?",
        CATALYST,
        "Mistral AI",
    ),
    (
        "beat-math-coding-benchmarks",
        "Did DeepSeek's model beat others on math and coding benchmarks?",
        LEAP,
        "mathematical problem-solving",
    ),
    (
        "lecun-china-america",
        "What did LeCun say about China beating America?",
        VALLEY,
        "surpassing proprietary ones",
    ),
]

# Sensible paraphrases the engine did not answer before issue 9, kept so that a regression shows.
KNOWN_MISSES = [
    pytest.param(
        "How much money did DeepSeek need to train its V3 model?",
        LEAP,
        "$5.6 million",
        id="v3-training-money",
    ),
]

OUT_OF_CORPUS = [
    pytest.param("How do I bake sourdough bread at home?", id="sourdough-bread"),
    pytest.param("What's the weather forecast for Paris tomorrow?", id="paris-weather"),
    pytest.param("Who won the football match last night?", id="football-results"),
    pytest.param("Who founded DeepSeek?", id="deepseek-founder"),
    pytest.param("What's a good recipe for chicken curry?", id="chicken-curry"),
    # Mistral is a French startup: "France" is in the corpus, its capital is not.
    pytest.param("What is the capital of France?", id="capital-of-france"),
    # The corpus never names parameters: none of its numbers is the answer.
    pytest.param("How many parameters does DeepSeek V3 have?", id="v3-parameters"),
    # RedNote's American users are mentioned, never counted.
    pytest.param("How many users does RedNote have?", id="rednote-users"),
]

# Questions issue 9 found answered by the wrong passage first (or refused): the passage that
# answers must now come first.
FIRST = [
    pytest.param("When was R1 released?", VALLEY, "January 20, 2025", id="r1-release-date"),
    pytest.param(
        "How much will the Stargate project cost?", STARGATE, "$500 billion", id="stargate-cost"
    ),
    pytest.param("What GPUs did DeepSeek use?", MOVEMENT, "H800", id="deepseek-gpus"),
    pytest.param("wen did deepseek put out r1", VALLEY, "January 20, 2025", id="r1-put-out-chat"),
    # A measure asked for and given ("$500 billion over the next four years") is enough,
    # though "money" and "putting" are nowhere in the corpus.
    pytest.param(
        "how much money is the us government putting into stargate, and over how long",
        STARGATE,
        "$500 billion",
        id="stargate-money-and-years",
    ),
    # Chat words the corpus lacks ("keep", "talking", "people") weigh half: they must not
    # outweigh the one word that matters.
    pytest.param(
        "whats the deepseek moment people keep talking about",
        MOVEMENT,
        "DeepSeek moment",
        id="deepseek-moment-chat",
    ),
    pytest.param(
        "How did DeepSeek train V3 so cheaply?",
        MOVEMENT,
        "Mixture-of-Experts",
        id="v3-cheaply",
        marks=pytest.mark.xfail(
            strict=True,
            reason="answered now (it was refused), but first comes a passage on 'lower-cost' "
            "training; the strategies passage says 'cost-effectiveness', a synonym of 'cheaply' "
            "that no term shares",
        ),
    ),
]


def _top(answer) -> str:
    lines = [f"  answered={answer.answered} confidence={answer.confidence:.2f}"]
    lines += [f"  {h.rank}. {h.source} p{h.paragraph}: {h.text[:80]!r}" for h in answer.hits]
    if not answer.hits:
        lines.append("  (no hits)")
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("question", "source", "snippet"),
    [pytest.param(q, s, snip, id=case_id) for case_id, q, s, snip in ANSWERABLE] + KNOWN_MISSES,
)
async def test_expected_passage_in_top_3(tmp_path, question, source, snippet):
    async with await KnowledgeBase.open(tmp_path / "quality.db") as kb:
        answer = await kb.ask(question, K)
    found = any(h.source == source and snippet in h.text for h in answer.hits)
    assert answer.answered and found, (
        f"question: {question!r}\n"
        f"expected in top {K}: {source} passage containing {snippet!r}\n"
        f"got:\n{_top(answer)}"
    )


@pytest.mark.parametrize(("question", "source", "snippet"), FIRST)
async def test_the_answering_passage_comes_first(tmp_path, question, source, snippet):
    async with await KnowledgeBase.open(tmp_path / "quality.db") as kb:
        answer = await kb.ask(question, K)
    assert answer.answered and answer.hits, f"{question!r} is refused: {answer.reason}"
    top = answer.hits[0]
    assert top.source == source and snippet in top.text, (
        f"question: {question!r}\nexpected first: {source} passage containing {snippet!r}\n"
        f"got:\n{_top(answer)}"
    )


@pytest.mark.parametrize("question", OUT_OF_CORPUS)
async def test_out_of_corpus_question_is_unanswered(tmp_path, question):
    async with await KnowledgeBase.open(tmp_path / "quality.db") as kb:
        answer = await kb.ask(question, K)
    assert not answer.answered and not answer.hits, (
        f"question: {question!r} should be unanswered with no hits\ngot:\n{_top(answer)}"
    )


@pytest.mark.parametrize(
    ("source", "snippet"),
    sorted({(s, snip) for _, _, s, snip in ANSWERABLE}),
    ids=lambda v: v if not v.startswith("seeds/") else Path(v).stem[:3],
)
def test_snippet_identifies_one_passage(source, snippet):
    """Guards the table: a typo or a too-common snippet would make a case meaningless."""
    text = (ROOT / source).read_text(encoding="utf-8")
    assert text.count(snippet) == 1, f"{snippet!r} occurs {text.count(snippet)} times in {source}"
