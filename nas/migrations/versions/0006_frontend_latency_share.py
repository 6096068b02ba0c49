"""The audio frontend's share of a trial's latency as a stored figure: ``nas_trials.frontend_latency_share``.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
ADDITIVE = True  # a nullable column: trials recorded before it read back None


def upgrade() -> None:
    op.add_column("nas_trials", sa.Column("frontend_latency_share", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nas_trials") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("frontend_latency_share")
