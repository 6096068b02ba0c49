"""The precheck's cost cache (issue 13): ``nas_cost_cache``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
ADDITIVE = True


def upgrade() -> None:
    op.create_table(
        "nas_cost_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nas_cost_cache")
