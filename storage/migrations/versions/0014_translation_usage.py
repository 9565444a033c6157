"""translation usage: characters sent per provider and month; which provider made a translation

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 11:45:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add translation_usage, and translation.provider ("" for the translations kept before)."""
    op.create_table('translation_usage',
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('chars', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('provider', 'month')
    )
    with op.batch_alter_table('translation', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('provider', sa.String(length=32), server_default='', nullable=False)
        )


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table('translation', schema=None) as batch_op:
        batch_op.drop_column('provider')
    op.drop_table('translation_usage')
