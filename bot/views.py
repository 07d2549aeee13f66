"""Buttons on answers and on the sources list.

They are DynamicItems: the custom_id carries everything the click needs (the logged question,
the page, the vote), so buttons keep working after the bot restarts and no view state is held
in memory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot import render, replies
from bot.checks import NotModerator, is_moderator, spend_search
from bot.errors import report
from retrieval.errors import NotFound
from retrieval.knowledge import MAX_K
from retrieval.models import Answer, Caller

if TYPE_CHECKING:
    pass

Interaction = discord.Interaction["Citebot"]

# Show-in-context buttons under an answer: paging, votes, Delete and Follow up take six places,
# and a view has five rows of five.
MAX_CONTEXT_BUTTONS = 19
# KnowledgeBase.page() serves pages 0..MAX_K and refuses the one after: Next stops here.
LAST_ANSWER_PAGE = MAX_K


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:page:(?P<query>\d+):(?P<page>\d+):(?P<k>\d+)(?::(?P<asker>\d+))?",
):
    """Show another page of an answer: in place for the asker (or a moderator); anyone else
    gets that page privately, and the answer stays as the asker left it. The asker's id is in
    the custom_id (buttons from before it was have none, and page in place for everyone)."""

    def __init__(
        self,
        query_id: int,
        page: int,
        k: int,
        asker: int | None,
        *,
        label: str,
        disabled: bool = False,
    ):
        owner = "" if asker is None else f":{asker}"
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:page:{query_id}:{page}:{k}{owner}",
                disabled=disabled,
            )
        )
        self.query_id, self.page, self.k, self.asker = query_id, page, k, asker

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> PageButton:
        asker = int(match["asker"]) if match["asker"] else None
        page, k = int(match["page"]), int(match["k"])
        return cls(int(match["query"]), page, k, asker, label=item.label or "")

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            await spend_search(interaction)
            if await _may_change(interaction, self.asker):
                await interaction.response.defer()
                answer = await self._answer(interaction)
                await interaction.edit_original_response(
                    embed=render.answer_embed(answer, self.page),
                    view=answer_view(
                        answer,
                        self.page,
                        self.k,
                        self.asker,
                        private=_is_private(interaction),
                        threaded=in_thread(interaction.channel),
                    ),
                )
                return
            # Someone else's answer: their own copy of the page, which they page in place.
            await interaction.response.defer(ephemeral=True, thinking=True)
            answer = await self._answer(interaction)
            await interaction.followup.send(
                embed=render.answer_embed(answer, self.page),
                view=answer_view(answer, self.page, self.k, interaction.user.id, private=True),
                ephemeral=True,
            )
        except Exception as exc:
            await report(interaction, exc)

    async def _answer(self, interaction: Interaction) -> Answer:
        return await interaction.client.kb.page(
            self.query_id, self.page, self.k, interaction.guild_id, thread_context(interaction)
        )


def _is_private(interaction: Interaction) -> bool:
    """Whether the message the button is on is ephemeral (only its reader sees it)."""
    message = interaction.message
    return bool(message is not None and message.flags.ephemeral)


async def _may_change(interaction: Interaction, asker: int | None) -> bool:
    """Whether this member may change a public answer: its asker, or a moderator."""
    return asker is None or interaction.user.id == asker or await is_moderator(interaction)


NOT_YOURS = "Only the person who asked, or a moderator, can delete this answer."
THREAD_NAME_LIMIT = 100


def in_thread(channel: object) -> bool:
    """Whether a channel is a thread (where an answer gets no Follow up: no thread in one)."""
    return isinstance(channel, discord.Thread)


def thread_context(interaction: Interaction) -> str | None:
    """The earlier question of the thread this interaction is in, when it is one of the bot's
    follow-up threads (named after the question it follows up); else None."""
    channel = interaction.channel
    me = interaction.client.user
    if isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id:
        return channel.name
    return None


THREAD_EXISTS = 160004  # Discord's code: a thread was started from this message already
_QUERY_ID = re.compile(r"citebot:(?:vote|page):(\d+)")


async def _asked_question(interaction: Interaction, message: discord.Message) -> str:
    """The question an answer message answers, as it was asked (from the log, through the id
    its buttons carry); the embed's title (shown escaped) only when the log has it no more."""
    for custom_id in _custom_ids(message):
        found = _QUERY_ID.match(custom_id)
        if found:
            record = await interaction.client.kb.logged_question(
                int(found[1]), interaction.guild_id
            )
            if record is not None:
                return record.query
    title = message.embeds[0].title if message.embeds else None
    return title or "Follow-up"


def _custom_ids(message: discord.Message) -> list[str]:
    ids: list[str] = []
    for row in message.components:
        for item in getattr(row, "children", ()):
            custom_id = getattr(item, "custom_id", None)
            if custom_id:
                ids.append(custom_id)
    return ids


class FollowUpButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:followup",
):
    """Follow up: a thread on the answer, named after its question; /ask in it reads the
    question as context. Anyone may start it (once: later presses point to it)."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Follow up",
                emoji="🧵",
                style=discord.ButtonStyle.secondary,
                custom_id="citebot:followup",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> FollowUpButton:
        return cls()

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            message = interaction.message
            assert message is not None and interaction.guild is not None
            there = f"Follow-ups for this answer go in <#{message.id}>."  # a thread has its id
            if interaction.guild.get_thread(message.id) is not None:
                await interaction.response.send_message(there, ephemeral=True)
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
            question = await _asked_question(interaction, message)
            name = " ".join(question.split())[:THREAD_NAME_LIMIT]
            try:
                thread = await message.create_thread(name=name)
            except discord.HTTPException as exc:
                if exc.code != THREAD_EXISTS:  # else archived, or not in the cache: it exists
                    raise
                await interaction.followup.send(there, ephemeral=True)
                return
            await thread.send(
                "Ask follow-ups here with `/ask`: I read them with the question above in "
                "mind (its words count, less than yours)."
            )
            await interaction.followup.send(
                f"Ask your follow-up in {thread.mention}.", ephemeral=True
            )
        except Exception as exc:
            await report(interaction, exc)


class ContextButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:context:(?P<passage>\d+)",
):
    """Show in context: the cited passage with the passages around it in its article, for
    whoever presses it alone (anyone may: it changes nothing)."""

    def __init__(self, passage_id: int, rank: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Show in context [{rank}]",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:context:{passage_id}",
            )
        )
        self.passage_id = passage_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ContextButton:
        rank = re.search(r"\[(\d+)\]", item.label or "")
        return cls(int(match["passage"]), int(rank[1]) if rank else 0)

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            context = await replies.in_time(
                interaction,
                interaction.client.kb.passage_context(self.passage_id, interaction.guild_id),
                ephemeral=True,
            )
            await replies.send(interaction, embed=render.context_embed(context), ephemeral=True)
        except Exception as exc:
            await report(interaction, exc)


class DeleteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:delete:(?P<asker>\d+)",
):
    """Delete a public answer: its asker or a moderator (the question stays in the log)."""

    def __init__(self, asker: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete",
                emoji="🗑️",
                style=discord.ButtonStyle.danger,
                custom_id=f"citebot:delete:{asker}",
            )
        )
        self.asker = asker

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> DeleteButton:
        return cls(int(match["asker"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            if not await _may_change(interaction, self.asker):
                await interaction.response.send_message(
                    embed=render.error_embed(NOT_YOURS), ephemeral=True
                )
                return
            await interaction.response.defer()
            await interaction.delete_original_response()
        except Exception as exc:
            await report(interaction, exc)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:vote:(?P<query>\d+):(?P<helpful>[01])",
):
    """Helpful / not helpful, recorded against the question's log row, one vote per user."""

    def __init__(self, query_id: int, helpful: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label="Helpful" if helpful else "Not helpful",
                emoji="👍" if helpful else "👎",
                style=discord.ButtonStyle.success if helpful else discord.ButtonStyle.secondary,
                custom_id=f"citebot:vote:{query_id}:{int(helpful)}",
            )
        )
        self.query_id, self.helpful = query_id, helpful

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["query"]), match["helpful"] == "1")

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            await spend_search(interaction)
            # The vote is a write, which may wait for another process's lock: defer first.
            await interaction.response.defer(ephemeral=True, thinking=True)
            changed = await interaction.client.kb.record_feedback(
                self.query_id, interaction.user.id, self.helpful, interaction.guild_id
            )
            verdict = "helpful" if self.helpful else "not helpful"
            text = f"Your vote is now: {verdict}." if changed else f"Thanks! Recorded as {verdict}."
            if self.helpful:
                await interaction.followup.send(text, ephemeral=True)
                return
            # Not helpful: why, if they care to say (optional; the vote stands either way).
            view = discord.ui.View(timeout=None)
            view.add_item(WhyButton(self.query_id))
            await interaction.followup.send(text, view=view, ephemeral=True)
        except Exception as exc:
            await report(interaction, exc)


REASON_CHARS = 200


class WhyModal(discord.ui.Modal, title="Why was it not helpful?"):
    """An optional short reason, kept with the not-helpful vote (moderators read it in
    /logs feedback and the export)."""

    reason: discord.ui.TextInput[WhyModal] = discord.ui.TextInput(
        label="What was missing or wrong? (optional)",
        style=discord.TextStyle.paragraph,
        max_length=REASON_CHARS,
        required=False,
        custom_id="reason",
    )

    def __init__(self, query_id: int) -> None:
        super().__init__(custom_id=f"citebot:why-modal:{query_id}", timeout=900)
        self.query_id = query_id

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)  # a write follows
            await interaction.client.kb.record_reason(
                self.query_id, interaction.user.id, self.reason.value or "", interaction.guild_id
            )
            said = (
                "Thanks: your reason is kept with your vote."
                if self.reason.value
                else ("No reason given; your vote stands.")
            )
            await interaction.followup.send(said, ephemeral=True)
        except Exception as exc:
            await report(interaction, exc)


class WhyButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:why:(?P<query>\d+)",
):
    """Say why an answer was not helpful: opens `WhyModal`."""

    def __init__(self, query_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Say why (optional)",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:why:{query_id}",
            )
        )
        self.query_id = query_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> WhyButton:
        return cls(int(match["query"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await interaction.response.send_modal(WhyModal(self.query_id))


class SourcesPageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:sources:(?P<page>\d+)(?P<previous>:prev)?",
):
    """Turn the page of the /sources list.

    Previous carries ":prev" so that its custom_id can never equal Next's, whatever pages the
    two point at (Discord refuses a message with two equal ids). Next keeps the plain
    "citebot:sources:N" of earlier versions, and both forms parse, so buttons on old messages
    keep working.
    """

    def __init__(
        self, page: int, *, label: str, disabled: bool = False, previous: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:sources:{page}{':prev' * previous}",
                disabled=disabled,
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> SourcesPageButton:
        return cls(int(match["page"]), label=item.label or "", previous=bool(match["previous"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            sources = await interaction.client.kb.list_sources(interaction.guild_id)
            await interaction.response.edit_message(
                embed=render.sources_embed(sources, self.page),
                view=sources_view(len(sources), self.page),
            )
        except Exception as exc:
            await report(interaction, exc)


def answer_view(
    answer: Answer,
    page: int,
    k: int,
    asker: int | None,
    *,
    private: bool = False,
    threaded: bool = False,
) -> discord.ui.View | Any:
    """Previous/next page and feedback buttons under an answer, and Delete under a public one
    (`private`: only its reader sees it, and can dismiss it); Follow up under a public answer
    that is in no thread yet (`threaded`: posted in one)."""
    view = discord.ui.View(timeout=None)
    if answer.query_id is None:
        return view
    if page > 0 or answer.has_more:
        previous = max(page - 1, 0)
        view.add_item(
            PageButton(answer.query_id, previous, k, asker, label="◀ Previous", disabled=page == 0)
        )
        # More hits may exist beyond the last page the engine serves; Next must not offer them.
        last = not answer.has_more or page >= LAST_ANSWER_PAGE
        view.add_item(
            PageButton(answer.query_id, page + 1, k, asker, label="Next ▶", disabled=last)
        )
    if answer.answered or page > 0:
        view.add_item(VoteButton(answer.query_id, True))
        view.add_item(VoteButton(answer.query_id, False))
    if asker is not None and not private:
        view.add_item(DeleteButton(asker))
        if answer.answered and answer.context is None and not threaded:
            view.add_item(FollowUpButton())
    for hit in answer.hits[:MAX_CONTEXT_BUTTONS]:  # a row of their own, five to a row
        view.add_item(ContextButton(hit.passage_id, hit.rank))
    return view


class PickArticle(
    discord.ui.DynamicItem[discord.ui.Select],
    template=r"citebot:pick:(?P<action>summary|remove)",
):
    """A menu of the articles an ambiguous title matched (/summary, /source remove): the one
    picked is summarised (or removed, by a moderator) in place of the menu, for the one who
    asked alone, as the menu was."""

    def __init__(self, action: str, candidates: list[tuple[int, str]] | None = None) -> None:
        options = [
            discord.SelectOption(label=render.choice_name(title), value=str(doc_id))
            for doc_id, title in (candidates or [])[: render.MAX_CHOICES]
        ] or [discord.SelectOption(label="(none)", value="0")]
        super().__init__(
            discord.ui.Select(
                custom_id=f"citebot:pick:{action}",
                placeholder="Pick the article",
                options=options,
            )
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Select, match: re.Match[str]
    ) -> PickArticle:
        return cls(match["action"])

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            values = (interaction.data or {}).get("values") or []
            chosen = str(values[0]) if values else ""
            if not chosen.isdigit():
                raise NotFound("pick one of the articles in the menu")
            kb = interaction.client.kb
            if self.action == "summary":
                summary = await kb.summary(chosen, interaction.guild_id)
                embed = render.summary_embed(summary)
            else:  # remove: a moderator's, checked again (the menu may outlive a role)
                if not await is_moderator(interaction):
                    raise NotModerator()
                await interaction.response.defer()  # the write may wait for a lock
                caller = Caller.member(interaction.guild_id, interaction.user.id)
                removed = await kb.remove_source(int(chosen), caller)
                await interaction.edit_original_response(
                    content=None, embed=render.removed_embed(removed), view=None
                )
                return
            await interaction.response.edit_message(content=None, embed=embed, view=None)
        except Exception as exc:
            await report(interaction, exc)


def pick_article_view(action: str, candidates: list[tuple[int, str]]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(PickArticle(action, candidates))
    return view


def sources_view(total: int, page: int) -> discord.ui.View:
    """Previous/next under a /sources page.

    `page` may come from a button on an older message, made when the list was longer: it is
    clamped to the pages that exist now, as `render.sources_embed` does for the text.
    """
    view = discord.ui.View(timeout=None)
    pages = render.sources_page_count(total)
    page = min(max(page, 0), pages - 1)
    if pages > 1:
        view.add_item(
            SourcesPageButton(
                max(page - 1, 0), label="◀ Previous", disabled=page == 0, previous=True
            )
        )
        view.add_item(
            SourcesPageButton(min(page + 1, pages - 1), label="Next ▶", disabled=page == pages - 1)
        )
    return view


DYNAMIC_ITEMS = (
    FollowUpButton,
    PageButton,
    VoteButton,
    DeleteButton,
    ContextButton,
    PickArticle,
    WhyButton,
    SourcesPageButton,
)
