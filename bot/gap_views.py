"""Closing a gap from /logs gaps: an "Add a source" button on each cluster opens a form (a web
page's address, or text); the source is added to the server, the cluster's questions are asked
again (not logged) and the moderator sees which now get an answer. When some do, **Tell the
askers** replies under each public answer (or the member's own message, for an auto-answer that
found nothing) of the cluster's questions the corpus now answers, with the answering sentence.

The button names its cluster by the id of the cluster's newest question, so a cluster found
again when the form comes back is the same one even if the log grew meanwhile.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot import render
from bot.adding import add_source
from bot.checks import NotModerator, is_moderator
from bot.errors import report
from retrieval.errors import BadSource
from retrieval.models import Caller

if TYPE_CHECKING:
    from retrieval.gaps import Gap

Interaction = discord.Interaction["Citebot"]
QUESTIONS_CHECKED = 10  # the cluster's most asked wordings asked again
TOLD_AT_MOST = 25  # replies "Tell the askers" posts, newest questions first


class AddForGap(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:gap-add:(?P<query>\d+):(?P<n>\d+)",
):
    def __init__(self, query_id: int, n: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Add a source for {n}",
                style=discord.ButtonStyle.primary,
                custom_id=f"citebot:gap-add:{query_id}:{n}",
            )
        )
        self.query_id, self.n = query_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> AddForGap:
        return cls(int(match["query"]), int(match["n"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            if not await is_moderator(interaction):
                raise NotModerator()
            await interaction.response.send_modal(GapSourceModal(self.query_id))
        except Exception as exc:
            await report(interaction, exc)


class GapSourceModal(discord.ui.Modal, title="Add a source for these questions"):
    url: discord.ui.TextInput[GapSourceModal] = discord.ui.TextInput(
        label="A web page's address (or leave empty)",
        required=False,
        max_length=2000,
        custom_id="url",
    )
    text: discord.ui.TextInput[GapSourceModal] = discord.ui.TextInput(
        label="Or the text itself",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=4000,
        custom_id="text",
    )
    source_title: discord.ui.TextInput[GapSourceModal] = discord.ui.TextInput(
        label="Title (optional)", required=False, max_length=200, custom_id="title"
    )

    def __init__(self, query_id: int) -> None:
        super().__init__(custom_id=f"citebot:gap-modal:{query_id}", timeout=900)
        self.query_id = query_id

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            url, text = (self.url.value or "").strip(), (self.text.value or "").strip()
            if bool(url) == bool(text):
                raise BadSource("give a web page's address or the text, one of the two")
            await interaction.response.defer(ephemeral=True, thinking=True)
            kb = interaction.client.kb
            guild, who = interaction.guild_id, str(interaction.user.id)
            title = (self.source_title.value or "").strip() or None
            result = await add_source(
                kb, guild_id=guild, added_by=who, title=title, url=url or None, text=text
            )
            gap = _cluster_of(await kb.log_gaps(Caller.member(guild, interaction.user.id)), self)
            asked = list(gap.wordings[:QUESTIONS_CHECKED]) if gap else []
            answered = [a is not None and a.answered for a in await kb.answers_now(asked, guild)]
            view = discord.ui.View(timeout=None)
            if any(answered):
                view.add_item(TellAskers(self.query_id, result.source.doc_id))
            await interaction.followup.send(
                embed=render.gap_closed_embed(result.source.title, asked, answered),
                view=view,
                ephemeral=True,
            )
        except Exception as exc:
            await report(interaction, exc)


class TellAskers(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:gap-tell:(?P<query>\d+):(?P<source>\d+)",
):
    """Replies under the cluster's earlier answers that the added source answers them now."""

    def __init__(self, query_id: int, source_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Tell the askers",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:gap-tell:{query_id}:{source_id}",
            )
        )
        self.query_id, self.source_id = query_id, source_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> TellAskers:
        return cls(int(match["query"]), int(match["source"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        job = (interaction.guild_id, self.query_id, self.source_id)
        try:
            if job in _TELLING:  # a second click while the first is under way
                await interaction.response.send_message(
                    "The askers are being told already.", ephemeral=True
                )
                return
            _TELLING.add(job)  # before any await: two quick clicks cannot both pass
            if not await is_moderator(interaction):
                raise NotModerator()
            # Once: the button goes as the replies start (a second click has nothing to press).
            await interaction.response.edit_message(view=None)
            told, private, failed = await tell_askers(interaction, self.query_id, self.source_id)
            await interaction.followup.send(
                embed=render.gap_told_embed(told, private, failed), ephemeral=True
            )
        except Exception as exc:
            _TELLING.discard(job)  # not told: the moderator may try again
            await report(interaction, exc)


# The "Tell the askers" jobs under way or done while the bot runs, (server, question, source):
# the button is gone once pressed, and this keeps a double click from telling everyone twice.
_TELLING: set[tuple[int | None, int, int]] = set()


async def tell_askers(
    interaction: Interaction, query_id: int, source_id: int
) -> tuple[int, int, int]:
    """Reply under each earlier answer of the cluster holding `query_id` that the corpus now
    answers from the added source `source_id` (a question it answers from another is no news);
    (told, with nothing to reply under, unreachable)."""
    kb, guild = interaction.client.kb, interaction.guild
    assert guild is not None
    caller = Caller.member(guild.id, interaction.user.id)
    gap = next((g for g in await kb.log_gaps(caller) if query_id in g.query_ids), None)
    if gap is None:
        return 0, 0, 0
    reachable = await kb.reply_targets(gap.query_ids, caller)
    targets = reachable[:TOLD_AT_MOST]  # the newest: the rest are counted as not reached
    questions = sorted({question for _, question, _, _, _ in targets})
    now = dict(zip(questions, await kb.answers_now(questions, guild.id), strict=True))
    told = failed = 0
    for _, question, asker, channel_id, message_id in targets:
        answer = now.get(question)
        if answer is None or not answer.answered:
            continue
        if not any(hit.doc_id == source_id for hit in answer.hits):
            continue
        try:
            channel = guild.get_channel_or_thread(channel_id) or await guild.fetch_channel(
                channel_id
            )
            if not isinstance(channel, discord.abc.Messageable):
                failed += 1
                continue
            await channel.get_partial_message(message_id).reply(  # type: ignore[attr-defined]
                render.gap_announcement(asker, question, answer),
                mention_author=False,
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(asker)] if asker else False
                ),
            )
            told += 1
        except discord.DiscordException:  # gone, forbidden, or Discord's trouble
            failed += 1
    failed += len(reachable) - len(targets)
    return told, len(gap.query_ids) - len(reachable), failed


def _cluster_of(gaps: list[Gap], modal: GapSourceModal) -> Gap | None:
    """The cluster the button was shown on: the one holding its newest question. (Once the
    source is added the questions are still in the log, unanswered as they were asked.)"""
    return next((g for g in gaps if modal.query_id in g.query_ids), None)


def gaps_view(gaps: list[Gap], shown: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for n, gap in enumerate(gaps[: min(shown, 5)], 1):
        if gap.query_ids:
            view.add_item(AddForGap(gap.query_ids[0], n))
    return view


GAP_ITEMS = (AddForGap, TellAskers)
