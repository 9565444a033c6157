"""code guesses: wrong link codes per platform account, so guessing can be limited

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 12:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add codeguess: one row per wrong code, counted over a recent window per sender."""
    op.create_table('codeguess',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('codeguess', schema=None) as batch_op:
        batch_op.create_index('ix_codeguess_sender',
                              ['kind', 'platform', 'workspace', 'external_id', 'at'],
                              unique=False)


def downgrade() -> None:
    """Drop codeguess."""
    with op.batch_alter_table('codeguess', schema=None) as batch_op:
        batch_op.drop_index('ix_codeguess_sender')
    op.drop_table('codeguess')
