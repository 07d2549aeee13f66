"""A follow-up question (asked in a thread on an answer) is searched with the thread's earlier
question as context: its words count, below the new question's own, and the answer says so."""

from __future__ import annotations

from retrieval.models import Caller

GUILD = 4242
FERRIES = (
    "The Harwick ferry company bought two electric ferries in the spring. Each vessel carries "
    "three hundred passengers and forty cars across the northern route."
)
PIER = (
    "Charging happens at the Harwick pier during the ten-minute turnaround. The regional grid "
    "operator built the pier substation, which delivers four megawatts."
)
MILL = (
    "The old Dunmore mill was built by the Callan family in 1820. Its wheel still turns on "
    "open days, when the grid operator of the estate demonstrates it."
)


async def _corpus(kb) -> None:
    for title, text in (("Ferries", FERRIES), ("Pier charging", PIER), ("Dunmore mill", MILL)):
        await kb.add_text(text, title=title, guild_id=GUILD)


async def test_the_earlier_question_decides_what_it_refers_to(kb) -> None:
    await _corpus(kb)
    caller = Caller.member(GUILD, 7)
    alone = await kb.ask("who built it?", 3, caller)
    assert alone.context is None
    followed = await kb.ask("who built it?", 3, caller, context="How is the Harwick pier charged?")
    assert followed.context == "How is the Harwick pier charged?"
    assert followed.answered and followed.hits[0].title == "Pier charging"
    # The same follow-up in a thread about the mill finds the mill.
    mill = await kb.ask("who built it?", 3, caller, context="Tell me about Dunmore mill")
    assert mill.hits[0].title == "Dunmore mill"


async def test_the_new_questions_own_words_count_more_than_the_context(kb) -> None:
    await _corpus(kb)
    caller = Caller.member(GUILD, 7)
    answer = await kb.ask(
        "how many passengers does each vessel carry?", 3, caller, context="Harwick pier charging"
    )
    assert answer.hits[0].title == "Ferries"


async def test_a_page_of_a_follow_up_keeps_its_context_and_the_log_keeps_the_question(kb) -> None:
    await _corpus(kb)
    caller = Caller.member(GUILD, 7)
    first = await kb.ask("who built it?", 1, caller, context="the Harwick pier")
    again = await kb.page(first.query_id, 0, 1, GUILD, context="the Harwick pier")
    assert [h.passage_id for h in again.hits] == [h.passage_id for h in first.hits]
    assert again.context == "the Harwick pier"
    rows = await kb.query_log("recent", 5, caller)
    assert rows[0].query == "who built it?"
