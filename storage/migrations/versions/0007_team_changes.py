"""team changes: when each member joined their student's team

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add membership.joined_at; a membership made by an invite gets the time the invite was
    used, any other existing one (the demo's, an older merge's) stays NULL: unknown."""
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE membership SET joined_at = ("
        " SELECT min(invite.used_at) FROM invite"
        " WHERE invite.used_by = membership.person_id"
        " AND invite.student_id = membership.student_id"
        " AND invite.used_at IS NOT NULL)"
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_column('joined_at')
