"""Which database an address names, and how it may be shown: small and free of drivers, so a
command on a SQLite file never loads the PostgreSQL store (`retrieval.pg_store` and asyncpg
take about 10 ms to import)."""

from __future__ import annotations

SCHEMES = ("postgresql://", "postgres://")


def is_postgres(address: str) -> bool:
    return str(address).startswith(SCHEMES)


def database_errors() -> tuple[type[BaseException], ...]:
    """What either backend raises when a statement or the server fails (for a handler that
    tries again another way, or says so in a line); asyncpg is imported only when asked."""
    import sqlite3

    import asyncpg

    return (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError)


def shown_address(address: str) -> str:
    """A database's address as it may be shown (a message, a log line): a PostgreSQL address
    as user@host:port/database only (no password, no query string, which may hold one too); a
    file's path as it is."""
    if not is_postgres(address):
        return str(address)
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    where = parts.netloc.rpartition("@")[2]  # host and port as written ([::1]:5432 too)
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{where}{parts.path}"
