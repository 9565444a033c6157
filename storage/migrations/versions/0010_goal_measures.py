"""goal measures: a goal's measure kind, target, baseline and date; the measure table

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0010'
# 0006-0009 are written alongside this one; the chain is set in order when they are merged.
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add goal.measure/target/baseline/due_on and the measure table (one per entry)."""
    with op.batch_alter_table('goal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('measure', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('target', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('baseline', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('due_on', sa.Date(), nullable=True))
    op.create_table('measure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('setting', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('correct', sa.Integer(), nullable=True),
    sa.Column('trials', sa.Integer(), nullable=True),
    sa.Column('prompt', sa.String(length=32), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['goal_id'], ['goal.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['student.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id')
    )
    with op.batch_alter_table('measure', schema=None) as batch_op:
        batch_op.create_index('ix_measure_goal_taken', ['goal_id', 'taken_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_measure_student_id'), ['student_id'], unique=False)


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table('measure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measure_student_id'))
        batch_op.drop_index('ix_measure_goal_taken')
    op.drop_table('measure')
    with op.batch_alter_table('goal', schema=None) as batch_op:
        batch_op.drop_column('due_on')
        batch_op.drop_column('baseline')
        batch_op.drop_column('target')
        batch_op.drop_column('measure')
