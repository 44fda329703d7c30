"""Repositories over one SQLAlchemy session, one module per area. They never commit: the unit of work does."""
