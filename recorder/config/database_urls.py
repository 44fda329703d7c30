"""Database URLs: which ones this package can use, and how to show one without its password."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

EXPECTED = "expected sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/NAME"
# backend -> the drivers installed with this package ("" = SQLAlchemy's default for that backend)
SUPPORTED = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg")}


def parse(url: str) -> URL | None:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


def database_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` in a few words (never echoing a password), or None when usable."""
    parsed = parse(url)
    if parsed is None:
        return f"not a database URL; {EXPECTED}"
    backend, _, driver = parsed.drivername.partition("+")
    if driver not in SUPPORTED.get(backend, ()):
        return f"unsupported database {parsed.drivername!r}; {EXPECTED}"
    return None


def shown(url: str) -> str:
    """``url`` as it may be printed: the password masked."""
    parsed = parse(url)
    return parsed.render_as_string(hide_password=True) if parsed is not None else "(not a URL)"
