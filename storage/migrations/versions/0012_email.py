"""email: reply identities, messages by Message-ID, the mailbox's last UID, delivery platform

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 11:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add emailidentity, emailmessage and emailmailbox, and person.delivery_platform."""
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_platform', sa.String(length=16), nullable=True))
    op.create_table('emailidentity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('key_salt', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('invite_sealed', sa.String(length=128), nullable=True),
    sa.Column('unreachable_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('address'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('emailmessage',
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=True),
    sa.Column('outgoing', sa.Boolean(), nullable=False),
    sa.Column('buttons', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['identity_id'], ['emailidentity.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id')
    )
    with op.batch_alter_table('emailmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emailmessage_identity_id'), ['identity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emailmessage_at'), ['at'], unique=False)
    op.create_table('emailmailbox',
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('folder', 'uidvalidity')
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table('emailmailbox')
    with op.batch_alter_table('emailmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emailmessage_at'))
        batch_op.drop_index(batch_op.f('ix_emailmessage_identity_id'))
    op.drop_table('emailmessage')
    op.drop_table('emailidentity')
    # Not copied: on SQLite a copy drops the old `person`, and with foreign keys on that
    # deletes every row that cascades from it (the outbox, the teams). SQLite >= 3.35 drops a
    # column in place.
    with op.batch_alter_table('person', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('delivery_platform')
