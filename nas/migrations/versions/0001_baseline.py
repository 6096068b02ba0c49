"""Baseline: the service's tables as of release 5042fa2 (``git show 5042fa2:nas/db.py``).

Idempotent: on a database made before migrations existed (by ``create_all`` of that release or an older one)
it creates only the tables and indexes that are missing, so indexes added after the first release reach it.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
ADDITIVE = True


def _tables() -> list[sa.Table]:
    m = sa.MetaData()
    return [
        sa.Table("nas_api_tokens", m,
                 sa.Column("id", sa.Integer(), primary_key=True),
                 sa.Column("name", sa.String(64), nullable=False, unique=True),
                 sa.Column("token_sha256", sa.String(64), nullable=False),
                 sa.Column("created_at", sa.DateTime(), nullable=False)),
        sa.Table("nas_studies", m,
                 sa.Column("id", sa.Integer(), primary_key=True),
                 sa.Column("name", sa.String(128), nullable=False),
                 sa.Column("config", sa.JSON(), nullable=False),
                 sa.Column("status", sa.String(16), nullable=False),
                 sa.Column("budget", sa.Integer(), nullable=False),
                 sa.Column("claimed", sa.Integer(), nullable=False),
                 sa.Column("owner", sa.String(128), nullable=False),
                 sa.Column("dataset_summary", sa.JSON(), nullable=True),
                 sa.Column("created_at", sa.DateTime(), nullable=False),
                 sa.Column("updated_at", sa.DateTime(), nullable=False)),
        sa.Table("nas_front_history", m,
                 sa.Column("id", sa.Integer(), primary_key=True),
                 sa.Column("study_id", sa.Integer(), sa.ForeignKey("nas_studies.id", ondelete="CASCADE"),
                           nullable=False),
                 sa.Column("n_trials", sa.Integer(), nullable=False),
                 sa.Column("front_size", sa.Integer(), nullable=False),
                 sa.Column("hypervolume", sa.Float(), nullable=False),
                 sa.Column("at", sa.DateTime(), nullable=False)),
        sa.Table("nas_trials", m,
                 sa.Column("id", sa.Integer(), primary_key=True),
                 sa.Column("study_id", sa.Integer(), sa.ForeignKey("nas_studies.id", ondelete="CASCADE"),
                           nullable=False),
                 sa.Column("number", sa.Integer(), nullable=False),
                 sa.Column("status", sa.String(16), nullable=False),
                 sa.Column("reason", sa.Text(), nullable=True),
                 sa.Column("candidate", sa.JSON(), nullable=False),
                 sa.Column("family", sa.String(32), nullable=False),
                 sa.Column("arch", sa.String(256), nullable=False),
                 sa.Column("frontend", sa.String(128), nullable=False),
                 sa.Column("bits", sa.Integer(), nullable=False),
                 sa.Column("prune_ratio", sa.Float(), nullable=False),
                 *(sa.Column(c, sa.Float(), nullable=True) for c in (
                     "accuracy", "test_accuracy", "float_accuracy", "latency_ms", "ram_kb", "flash_kb")),
                 *(sa.Column(c, sa.Integer(), nullable=True) for c in ("macs", "params", "tflite_bytes")),
                 sa.Column("feasible", sa.Boolean(), nullable=False),
                 sa.Column("details", sa.JSON(), nullable=False),
                 sa.Column("worker", sa.String(128), nullable=False),
                 sa.Column("finished_at", sa.DateTime(), nullable=False),
                 sa.UniqueConstraint("study_id", "number")),
        sa.Table("nas_artifacts", m,
                 sa.Column("id", sa.Integer(), primary_key=True),
                 sa.Column("trial_id", sa.Integer(), sa.ForeignKey("nas_trials.id", ondelete="CASCADE"),
                           nullable=False),
                 sa.Column("kind", sa.String(32), nullable=False),
                 sa.Column("data", sa.LargeBinary(), nullable=False),
                 sa.UniqueConstraint("trial_id", "kind")),
        sa.Table("nas_measurements", m,
                 sa.Column("id", sa.Integer(), primary_key=True),
                 sa.Column("trial_id", sa.Integer(), sa.ForeignKey("nas_trials.id", ondelete="CASCADE"),
                           nullable=False),
                 sa.Column("device", sa.String(64), nullable=False),
                 sa.Column("deployable", sa.Boolean(), nullable=False),
                 sa.Column("latency_ms", sa.Float(), nullable=False),
                 sa.Column("ram_kb", sa.Float(), nullable=False),
                 sa.Column("flash_kb", sa.Float(), nullable=False),
                 sa.Column("latency_source", sa.String(16), nullable=False),
                 sa.Column("ram_source", sa.String(16), nullable=False),
                 sa.Column("report", sa.JSON(), nullable=False),
                 sa.UniqueConstraint("trial_id", "device")),
        sa.Table("nas_pareto_points", m,
                 sa.Column("id", sa.Integer(), primary_key=True),
                 sa.Column("study_id", sa.Integer(), sa.ForeignKey("nas_studies.id", ondelete="CASCADE"),
                           nullable=False),
                 sa.Column("device", sa.String(64), nullable=False),
                 sa.Column("trial_id", sa.Integer(), sa.ForeignKey("nas_trials.id", ondelete="CASCADE"),
                           nullable=False),
                 sa.Column("number", sa.Integer(), nullable=False),
                 sa.Column("values", sa.JSON(), nullable=False)),
    ]


# (name, table, columns, unique), as 5042fa2 declared them
INDEXES: list[tuple[str, str, list[str], bool]] = [
    ("ix_nas_api_tokens_token_sha256", "nas_api_tokens", ["token_sha256"], True),
    ("ix_nas_studies_name", "nas_studies", ["name"], True),
    ("ix_nas_front_history_study_id", "nas_front_history", ["study_id"], False),
    ("ix_nas_trials_family", "nas_trials", ["family"], False),
    ("ix_nas_trials_feasible", "nas_trials", ["feasible"], False),
    ("ix_nas_trials_finished_at", "nas_trials", ["finished_at"], False),
    ("ix_nas_trials_study_id", "nas_trials", ["study_id"], False),
    *((f"ix_nas_trials_study_{k}", "nas_trials", ["study_id", k], False)
      for k in ("accuracy", "latency_ms", "ram_kb", "flash_kb", "params", "macs", "finished_at")),
    ("ix_nas_trials_study_summary", "nas_trials",
     ["study_id", "status", "feasible", "accuracy", "latency_ms", "ram_kb"], False),
    ("ix_nas_artifacts_trial_id", "nas_artifacts", ["trial_id"], False),
    ("ix_nas_measurements_device", "nas_measurements", ["device"], False),
    ("ix_nas_measurements_trial_id", "nas_measurements", ["trial_id"], False),
    ("ix_nas_pareto_points_study_id", "nas_pareto_points", ["study_id"], False),
    ("ix_nas_pareto_study_device", "nas_pareto_points", ["study_id", "device"], False),
]


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names())
    for table in _tables():  # in foreign-key order
        if table.name not in present:
            table.create(bind)
    indexes = {(t, i["name"]) for t in {t for _, t, _, _ in INDEXES}
               for i in sa.inspect(bind).get_indexes(t)}
    for name, table_name, columns, unique in INDEXES:
        if (table_name, name) not in indexes:
            op.create_index(name, table_name, columns, unique=unique)


def downgrade() -> None:
    for table in reversed(_tables()):
        op.drop_table(table.name)
