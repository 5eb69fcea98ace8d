"""The first history schema: vessels, inspections, findings, clean clouds.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "vessels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("imo", sa.String(7), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("flag", sa.String(100), nullable=True),
        sa.Column("hull_reference", sa.String(2000), nullable=True),
        sa.Column("hull_reference_sha256", sa.String(64), nullable=True),
        sa.Column("created_utc", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("imo"),
    )
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("vessel_id", sa.Integer(), sa.ForeignKey("vessels.id"), nullable=False),
        sa.Column("time_utc", sa.DateTime(), nullable=False),
        sa.Column("port", sa.String(200), nullable=True),
        sa.Column("operator", sa.String(200), nullable=True),
        sa.Column("case_number", sa.String(200), nullable=True),
        sa.Column("software_version", sa.String(50), nullable=False),
        sa.Column("command", sa.String(20), nullable=False),
        sa.Column("input_hashes", sa.JSON(), nullable=False),
        sa.Column("reference_kind", sa.String(10), nullable=False),
        sa.Column("reference", sa.String(2000), nullable=True),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("verdict_text", sa.Text(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=False),
        sa.Column("cleared_fraction", sa.Float(), nullable=True),
        sa.Column("seen_fraction", sa.Float(), nullable=True),
        sa.Column("n_findings", sa.Integer(), nullable=False),
        sa.Column("cleared", sa.Boolean(), nullable=False),
        sa.Column("out_dir", sa.String(2000), nullable=True),
        sa.Column("cloud_to_reference", sa.JSON(), nullable=True),
        sa.Column("compared_with_id", sa.Integer(), sa.ForeignKey("inspections.id"), nullable=True),
        sa.Column("history_status", sa.String(10), nullable=True),
        sa.Column("history_summary", sa.Text(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
    )
    op.create_index("ix_inspections_vessel_id", "inspections", ["vessel_id"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("inspection_id", sa.Integer(), sa.ForeignKey("inspections.id"), nullable=False),
        sa.Column("finding_id", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("region", sa.String(50), nullable=False),
        sa.Column("side", sa.String(20), nullable=False),
        sa.Column("x_m", sa.Float(), nullable=False),
        sa.Column("y_m", sa.Float(), nullable=False),
        sa.Column("z_m", sa.Float(), nullable=False),
        sa.Column("distance_from_stern_m", sa.Float(), nullable=False),
        sa.Column("depth_m", sa.Float(), nullable=False),
        sa.Column("volume_m3", sa.Float(), nullable=False),
        sa.Column("max_height_m", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("history_status", sa.String(10), nullable=True),
        sa.Column("history_text", sa.String(200), nullable=True),
    )
    op.create_index("ix_findings_inspection_id", "findings", ["inspection_id"])
    op.create_table(
        "clean_clouds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("vessel_id", sa.Integer(), sa.ForeignKey("vessels.id"), nullable=False),
        sa.Column("inspection_id", sa.Integer(), sa.ForeignKey("inspections.id"), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stored_utc", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("inspection_id"),
    )
    op.create_index("ix_clean_clouds_vessel_id", "clean_clouds", ["vessel_id"])


def downgrade() -> None:
    op.drop_table("clean_clouds")
    op.drop_index("ix_findings_inspection_id", "findings")
    op.drop_table("findings")
    op.drop_index("ix_inspections_vessel_id", "inspections")
    op.drop_table("inspections")
    op.drop_table("vessels")
