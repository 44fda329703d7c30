"""What every in-memory unit of work in the service unit tests shares: a transaction that counts its commits
and, like the real one, keeps nothing it was not told to commit (the fakes write at once: tests that care
check ``commits``)."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class FakeTransaction:
    commits = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def commit(self) -> None:
        self.commits += 1
