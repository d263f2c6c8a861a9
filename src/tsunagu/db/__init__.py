"""Database engine, sessions, the declarative base and migrations."""

from tsunagu.db.base import Base
from tsunagu.db.engine import Database

__all__ = ["Base", "Database"]
