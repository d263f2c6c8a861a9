"""roster: GIN index on the entries of users.userIds (PostgreSQL), for OIDC sign-in

Signing in with Google or Microsoft maps the identity to the roster user whose ``userIds`` has
``{Google:<sub>}`` / ``{MS:<oid>}``. Without an index that is a scan of every user of the
tenant: 68 ms with three parallel workers on the 270,000-pupil city, for every sign-in of a
first bell. The index holds each comma-separated entry; ``identity.oidc`` queries it with the
same expression (``@>``). SQLite (a village's embedded database) keeps the LIKE scan.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Must stay the expression ``tsunagu.identity.oidc`` filters on, or the index is not used.
EXPRESSION = r"regexp_split_to_array(user_ids, '\s*,\s*')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE INDEX ix_roster_users_user_id_entries ON roster_users USING gin (({EXPRESSION}))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_roster_users_user_id_entries")
