"""bot profile: the bot's own username per platform, for invite deep links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:00:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add botprofile: written by an adapter at start, read wherever an invite link is made."""
    op.create_table(
        "botprofile",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform"),
    )


def downgrade() -> None:
    """Drop botprofile."""
    op.drop_table("botprofile")
