"""Errors a user can cause and fix; every surface shows their message as it is.

Anything else that escapes the engine is a bug: surfaces log its traceback and apologise.
"""


class CitebotError(Exception):
    """A refusal with a message written for the person who asked."""


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
