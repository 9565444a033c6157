"""access log as columns: what, entry, correction, count, subject, role, school, via

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00.000000

Until now a row's particulars were one English sentence in `detail`, read back with regular
expressions. They become columns. Existing rows are parsed once, here: every sentence Tandem
wrote is understood; what is not (nothing Tandem wrote, but a hand-made row perhaps) keeps its
text in `legacy_detail` (the old `detail`, renamed). A refusal's detail held what the person had
typed (`read: Sam had a seizure`): only the refused action is kept, never that text.
"""
import re
from typing import Any, Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# What access.py wrote before this migration, as it wrote it.
_READS = {'log', 'week', 'record', 'goals', 'questions'}
_FORMATS = {'md', 'csv', 'json'}
_ACTIONS = {
    'read', 'record', 'goals', 'log', 'answer', 'set_goal', 'invite_parent', 'invite_teacher',
    'amend', 'decide_amend', 'export', 'forget',
}
_SHARED = re.compile(r'entry (\d+) to (\d+) parent')
_AMENDED = re.compile(r'correction #(\d+) of entry #(\d+) (requested|accepted|declined)')
_FORGOTTEN = re.compile(r'student #(\d+) forgotten by cli')


def _columns(action: str, detail: str) -> dict[str, Any]:
    """The new columns of one old row; legacy_detail keeps what could not be parsed."""
    words = detail.split()
    via = 'cli' if words[:1] == ['cli'] or detail.endswith('by cli') else 'chat'
    if action == 'denied':
        refused, _, typed = detail.partition(': ')
        via = 'cli' if typed.split()[:1] == ['cli'] else 'chat'
        return {'what': refused if refused in _ACTIONS else '', 'via': via}
    if action == 'view' and words and words[0] in _READS:
        count = int(words[1]) if len(words) > 1 and words[1].isdecimal() else None
        return {'what': words[0], 'count': count}
    if action == 'export' and words[-1:] and words[-1] in _FORMATS:
        return {'what': words[-1], 'via': via}
    shared = _SHARED.fullmatch(detail.replace('(s)', '')) if action == 'share' else None
    if shared:
        return {'entry_id': int(shared[1]), 'count': int(shared[2])}
    amended = _AMENDED.fullmatch(detail) if action == 'amend' else None
    if amended:
        status = 'pending' if amended[3] == 'requested' else amended[3]
        return {'amendment_id': int(amended[1]), 'entry_id': int(amended[2]), 'what': status}
    forgotten = _FORGOTTEN.fullmatch(detail) if action == 'delete' else None
    if forgotten:
        return {'forgotten_id': int(forgotten[1]), 'via': 'cli'}
    return {'legacy_detail': detail, 'via': via}


def upgrade() -> None:
    """AccessLog gains typed columns; old details are parsed into them (see the docstring)."""
    with op.batch_alter_table('accesslog', schema=None) as batch_op:
        batch_op.alter_column('detail', new_column_name='legacy_detail',
               existing_type=sa.String(length=200), existing_nullable=False)
        batch_op.add_column(sa.Column('via', sa.String(length=8), nullable=False,
                                      server_default='chat'))
        batch_op.add_column(sa.Column('school_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('what', sa.String(length=32), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('entry_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('amendment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('role', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('forgotten_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_accesslog_school_id'), ['school_id'], unique=False)
        batch_op.create_foreign_key('fk_accesslog_subject_id_person', 'person',
                                    ['subject_id'], ['id'], ondelete='SET NULL')
    _parse_old_rows()


def _parse_old_rows() -> None:
    bind = op.get_bind()
    log = sa.table(
        'accesslog', sa.column('id'), sa.column('action'), sa.column('legacy_detail'),
        sa.column('student_id'), sa.column('school_id'), sa.column('via'), sa.column('what'),
        sa.column('entry_id'), sa.column('amendment_id'), sa.column('count'),
        sa.column('forgotten_id'),
    )
    rows = bind.execute(sa.select(log.c.id, log.c.action, log.c.legacy_detail)).all()
    for row_id, action, detail in rows:
        values = {'legacy_detail': '', **_columns(action, detail or '')}
        bind.execute(sa.update(log).where(log.c.id == row_id).values(**values))
    student = sa.table('student', sa.column('id'), sa.column('school_id'))
    school_of = (
        sa.select(student.c.school_id).where(student.c.id == log.c.student_id).scalar_subquery()
    )
    bind.execute(sa.update(log).where(log.c.student_id.is_not(None)).values(school_id=school_of))


def downgrade() -> None:
    """Drop the columns; rows written since keep no detail (their columns are gone)."""
    with op.batch_alter_table('accesslog', schema=None) as batch_op:
        batch_op.drop_constraint('fk_accesslog_subject_id_person', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_accesslog_school_id'))
        for column in ('forgotten_id', 'role', 'subject_id', 'count', 'amendment_id',
                       'entry_id', 'what', 'school_id', 'via'):
            batch_op.drop_column(column)
        batch_op.alter_column('legacy_detail', new_column_name='detail',
               existing_type=sa.String(length=200), existing_nullable=False)
