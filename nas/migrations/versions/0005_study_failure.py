"""Why a study failed (issue 18): ``nas_studies.failure_reason``, set with status ``failed`` when a worker
cannot load the study's dataset or build its runtime.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
ADDITIVE = True


def upgrade() -> None:
    with op.batch_alter_table("nas_studies") as batch:
        batch.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nas_studies") as batch:
        batch.drop_column("failure_reason")
