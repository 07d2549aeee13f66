"""The direct answer: the one sentence of the top passages that answers, with the answer marked.

Passages are the bundled articles' own (seeds/), asked through the real knowledge base or
passed in as the hits a search returns.
"""

from retrieval.analyzer import analyze
from retrieval.direct_answer import MAX_SCAN_CHARS, direct_answer
from retrieval.models import Hit
from retrieval.sentences import sentence_offsets

# Passages of the bundled corpus, as stored (seeds/004 and seeds/003, seeds/000).
FAQ_R1 = (
    "Why did the US tech market react negatively to the release of R1?\n"
    "The release of R1 triggered a $1 trillion sell-off in the US tech sector due to concerns "
    "over the commodification of AI and fears that US companies may lose their competitive edge."
)
SILICON_VALLEY = (
    "Silicon Valley is reeling from the rapid emergence of DeepSeek, a Chinese AI platform, which "
    "has ignited fierce debates over the future of artificial intelligence. By releasing its R1 "
    "model on January 20, 2025—the same day Donald Trump was inaugurated for his second "
    "term—DeepSeek has positioned itself as a formidable player on the global stage, bringing "
    "open-source AI technology to the forefront."
)
STARGATE = (
    "The ongoing competitive landscape suggests a balance could be struck between open- and "
    "closed-source offerings, placing increasing pressure on American tech firms to reconsider "
    "their strategies. In response, the US government has initiated the Stargate Project, "
    "pledging $500 billion over the next four years to fortify AI infrastructure, underscoring "
    "the need to maintain America's competitive edge."
)
WHAT_IS_R1 = (
    "What is DeepSeek's R1?\nDeepSeek's R1 is an open-source AI model released by a Chinese "
    "company, designed to rival the capabilities of models like OpenAI's GPT-4."
)


def hits(*texts: str) -> list[Hit]:
    return [
        Hit(rank, 100 + rank, rank, f"Article {rank}", "seeds/x.txt", 1, text, 10.0 - rank)
        for rank, text in enumerate(texts, start=1)
    ]


def ask(question: str, passages: list[Hit], weights=None):
    return direct_answer(question, analyze(question), passages, weights)


def test_a_when_question_takes_the_dated_sentence_from_the_second_passage():
    passages = hits(FAQ_R1, SILICON_VALLEY)
    answer = ask("When was R1 released?", passages)
    assert answer.text.startswith("By releasing its R1 model on January 20, 2025—the same day")
    assert answer.span_text == "January 20, 2025" and answer.kind == "date"
    assert (answer.rank, answer.passage_id) == (2, 102)
    assert SILICON_VALLEY[answer.start : answer.end] == answer.text
    # Without the question word the date is no reason to leave the best passage.
    plain = ask("R1 released", passages)
    assert plain.rank == 1 and plain.text.startswith("The release of R1 triggered")
    assert plain.span is None


def test_the_kind_the_rerank_worked_out_is_the_one_marked():
    """Answering passes the kind its rerank read from the question (`question_kind`, worked
    out once per ask): the sentence and its mark are those of that kind."""
    passages = hits(FAQ_R1, SILICON_VALLEY)
    question = "When was R1 released?"
    given = direct_answer(question, analyze(question), passages, None, None, "date")
    assert given == ask(question, passages)
    unmarked = direct_answer(question, analyze(question), passages, None, None, None)
    assert unmarked.kind is None and unmarked.span is None
    assert unmarked.text.startswith("The release of R1 triggered")


def test_an_amount_is_marked_in_the_sentence_that_names_the_project():
    answer = ask("How much will the Stargate project cost?", hits(STARGATE))
    assert answer.text.startswith("In response, the US government has initiated the Stargate")
    # "$500 billion", not "four years": the question asks for money.
    assert answer.span_text == "$500 billion"
    assert answer.to_json() == {
        "text": answer.text,
        "rank": 1,
        "passage_id": 101,
        "span": [76, 88],
        "span_text": "$500 billion",
    }


def test_rare_terms_weigh_more_when_weights_are_given():
    question = "stargate american firms"
    assert ask(question, hits(STARGATE)).text.startswith("The ongoing competitive landscape")
    weighted = ask(question, hits(STARGATE), {"stargat": 6.0, "american": 1.0, "firm": 1.0})
    assert weighted.text.startswith("In response, the US government")


def test_an_faq_question_is_not_its_own_answer():
    answer = ask("what is deepseek's r1", hits(WHAT_IS_R1))
    assert answer.text.startswith("DeepSeek's R1 is an open-source AI model")
    assert WHAT_IS_R1[answer.start : answer.end] == answer.text


def test_no_sentence_sharing_a_word_means_no_direct_answer():
    assert ask("sourdough bread recipe", hits(STARGATE, FAQ_R1)) is None
    assert ask("When was R1 released?", []) is None


def test_sentence_offsets_survive_bullets_and_uneven_spaces():
    text = (
        "Key points:\n•  DeepSeek  spent $5.6 million.\tIt used   H800 chips.\n\n  Done here now."
    )
    found = [text[s:e] for s, e in sentence_offsets(text)]
    assert found == [
        "Key points:",
        "DeepSeek  spent $5.6 million.",
        "It used   H800 chips.",
        "Done here now.",
    ]


def test_a_wall_of_text_is_read_only_so_far():
    wall = "Filler words about nothing in particular. " * (MAX_SCAN_CHARS // 40)
    assert ask("how much did deepseek spend", hits(wall + STARGATE)) is None


async def test_a_who_question_marks_the_name(kb):
    answer = await kb.ask("who is meta's chief ai scientist")
    assert answer.direct.span_text == "Yann LeCun"
    assert answer.direct.text.startswith("Meta's chief AI scientist, Yann LeCun, ")


async def test_asked_through_the_knowledge_base(kb):
    answer = await kb.ask("what day did deepseek release the r1 model")
    direct = answer.direct
    assert direct.text.startswith("By releasing its R1 model on January 20, 2025")
    assert direct.span_text == "January 20, 2025"
    hit = answer.hits[direct.rank - 1]
    assert hit.passage_id == direct.passage_id
    assert hit.text[direct.start : direct.end] == direct.text
    assert answer.to_json()["answer_sentence"]["span_text"] == "January 20, 2025"


async def test_stargate_cost_marks_the_amount_wherever_its_passage_ranks(kb):
    answer = await kb.ask("How much will the Stargate project cost?")
    direct = answer.direct
    assert direct.span_text == "$500 billion"
    assert "$500 billion" in answer.hits[direct.rank - 1].text


async def test_unanswered_has_no_direct_answer(kb):
    answer = await kb.ask("How do I bake sourdough bread at home?")
    assert not answer.answered and answer.direct is None
    assert answer.to_json()["answer_sentence"] is None


async def test_only_the_first_page_carries_the_direct_answer(kb):
    first = await kb.ask("How much will the Stargate project cost?", k=1)
    assert first.direct is not None and "$500 billion" in first.direct.text
    again = await kb.page(first.query_id, 0, 1)
    assert again.direct == first.direct
    second = await kb.page(first.query_id, 1, 1)
    assert [h.rank for h in second.hits] == [2]
    assert second.direct is None
