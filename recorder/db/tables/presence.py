"""When each participant came and went, by ACS's time: the evidence for unconsented exposure.

Rows are written by database triggers (migration 0014) whenever a ``participants`` row is added or its
``present`` flag changes, stamped with the call's ``participants_at`` (the event time of the ACS participant
list that caused the change, or of the read of ACS's list). Every writer of participants is covered, and an
erasure that pseudonymises a participant leaves nothing here to erase: rows name the participant row, not
the raw id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from recorder.db.tables.base import Base, Serial, UTCDateTime


class ParticipantPresence(Base):
    __tablename__ = "participant_presence"

    id: Mapped[Serial]
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    present: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
