"""The declarative base every table module shares: naming convention, UTC datetimes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The columns many tables declare alike: a row number the database assigns, and the call a row belongs to.
Serial = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
OfCall = Annotated[str, mapped_column(ForeignKey("calls.id"), index=True)]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UnparseableJSON(str):
    """A stored JSON payload that no longer parses (edited behind the application's back): the raw text."""


class TolerantJSON(TypeDecorator[Any]):
    """JSON that reads an unparseable stored value as ``UnparseableJSON`` instead of raising.

    The audit chain must be verifiable whatever was done to its rows: a payload that cannot be parsed is
    handed to verification as text, whose hash cannot match the entry's, rather than failing the read.
    """

    impl = JSON
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        parse = super().result_processor(dialect, coltype)
        if parse is None:
            return None

        def tolerant(value: Any) -> Any:
            try:
                return parse(value)
            except ValueError:
                return UnparseableJSON(value)

        return tolerant


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
