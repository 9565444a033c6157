"""outbox school: the school each letter comes from, so the sender claims fairly across schools

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-03 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0009'
# 0006-0008 are being written beside this one: the chain is joined when they are merged.
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add outbox.school_id, filled in from the letter's student where it has one."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('school_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_outbox_school_id_school', 'school', ['school_id'], ['id'], ondelete='CASCADE'
        )
    op.execute(
        'UPDATE outbox SET school_id = '
        '(SELECT student.school_id FROM student WHERE student.id = outbox.student_id) '
        'WHERE student_id IS NOT NULL'
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_school_id_school', type_='foreignkey')
        batch_op.drop_column('school_id')
