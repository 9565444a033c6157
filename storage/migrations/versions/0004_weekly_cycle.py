"""weekly cycle: pausing check-ins, [Seen] on urgent notes, the sent message's reference

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Person.paused_until, Outbox.sent_ref, and the acknowledgement table."""
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_ref', sa.String(length=128), nullable=True))
        batch_op.create_index('ix_outbox_sent_ref', ['account_id', 'sent_ref'], unique=False)
    op.create_table('acknowledgement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id', 'person_id')
    )
    with op.batch_alter_table('acknowledgement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acknowledgement_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_acknowledgement_person_id'), ['person_id'], unique=False)


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table('acknowledgement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acknowledgement_person_id'))
        batch_op.drop_index(batch_op.f('ix_acknowledgement_entry_id'))
    op.drop_table('acknowledgement')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_sent_ref')
        batch_op.drop_column('sent_ref')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('paused_until')
