"""records and privacy: amendment requests, and the roster label on invites

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add amendment (a parent's correction request and its outcome) and invite.label."""
    op.create_table('amendment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by'], ['person.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by'], ['person.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amendment_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_amendment_student_id'), ['student_id'], unique=False)
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_column('label')
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amendment_student_id'))
        batch_op.drop_index(batch_op.f('ix_amendment_entry_id'))
    op.drop_table('amendment')
