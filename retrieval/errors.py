"""Errors a user can cause and fix; every surface shows their message as it is.

Anything else that escapes the engine is a bug: surfaces log its traceback and apologise.
"""

# What a surface may add to a refusal: each surface says it in its own words (a slash command
# in Discord, a command line in a terminal), so the engine never names either.
HINT_LIST_SOURCES = "list_sources"


class CitebotError(Exception):
    """A refusal with a message written for the person who asked, and optionally a hint
    (one of the HINT_ names) that the surface turns into its own advice."""

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class InvalidQuery(CitebotError):
    """Empty, blank or over-long question."""


class NotFound(CitebotError):
    """No article or source matches what was asked for."""


class Ambiguous(CitebotError):
    """Several articles match a title fragment; `candidates` lists them."""

    def __init__(self, message: str, candidates: list[tuple[int, str]]) -> None:
        super().__init__(message)
        self.candidates = candidates


class DuplicateSource(CitebotError):
    """The same content is already a source visible here."""


class BadSource(CitebotError):
    """A file or text that cannot become a source (binary, wrong type, empty, too large)."""


class Forbidden(CitebotError):
    """The caller may not change this source (another server's, or the bundled corpus)."""


class Busy(CitebotError):
    """Too much is already queued for this server; try again later."""


class InvalidSetting(CitebotError):
    """A server setting outside its limits (`retrieval.server_settings`); nothing was stored."""
