"""The schema as SQLAlchemy models, one module per area. Alembic migrations are the source of truth; a test
keeps them in step. Importing any table module loads them all, so ``Base.metadata`` is the whole schema.
"""

from recorder.db.tables import (
    access,
    audit,
    calls,
    compliance,
    identities,
    presence,
    recording_requests,
    storage,
)

__all__ = [
    "access",
    "audit",
    "calls",
    "compliance",
    "identities",
    "presence",
    "recording_requests",
    "storage",
]
