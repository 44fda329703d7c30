"""One transaction per unit of work: state, ledger, audit and outbox rows commit together or not at all."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from recorder.db.repositories.access import ConsoleSessionRepository, KeyRepository
from recorder.db.repositories.agents import AgentRepository
from recorder.db.repositories.audit import AuditRepository
from recorder.db.repositories.calls import CallRepository, InboxRepository, LedgerRepository
from recorder.db.repositories.erasure import ErasureRepository
from recorder.db.repositories.events import EventRepository, RecordingRequestRepository
from recorder.db.repositories.grants import GrantRepository
from recorder.db.repositories.holds import HoldRepository
from recorder.db.repositories.identities import IdentityRepository
from recorder.db.repositories.outbox import OutboxRepository
from recorder.db.repositories.storage import StorageRepository

# a database that is away for a moment: what the dispatcher's own reads and writes wait out
UNAVAILABLE: tuple[type[Exception], ...] = (DBAPIError,)


class UnitOfWork:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.calls = CallRepository(self.session)
        self.ledger = LedgerRepository(self.session)
        self.inbox = InboxRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.agents = AgentRepository(self.session)
        self.events = EventRepository(self.session)
        self.requests = RecordingRequestRepository(self.session)
        self.storage = StorageRepository(self.session)
        self.holds = HoldRepository(self.session)
        self.erasure = ErasureRepository(self.session)
        self.grants = GrantRepository(self.session)
        self.keys = KeyRepository(self.session)
        self.console_sessions = ConsoleSessionRepository(self.session)
        self.identities = IdentityRepository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.session.rollback()  # a no-op after commit
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
