"""Multi-fidelity rungs (issue 13): ``nas_rungs``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
ADDITIVE = True


def upgrade() -> None:
    op.create_table(
        "nas_rungs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("nas_studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("rung", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("val_accuracy", sa.Float(), nullable=False),
        sa.Column("costs", sa.JSON(), nullable=False),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("competitors", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("study_id", "number", "rung"),
    )
    op.create_index("ix_nas_rungs_study_id", "nas_rungs", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_nas_rungs_study_id", "nas_rungs")
    op.drop_table("nas_rungs")
