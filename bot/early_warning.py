"""Early warnings for a student's teachers, in their weekly nudge (never for the family):
a measured goal left unmeasured, a goal whose last three measures moved away from its target,
and concerns outnumbering wins 3 to 1 over two weeks (the "balance check")."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from bot.config import Settings
from storage.models import EntryKind
from storage.stores import Store

Warning = tuple[str, dict[str, object]]  # a catalog key and its values, `student` added later

BALANCE_WINDOW = timedelta(weeks=2)
BALANCE_RATIO = 3
DRIFT_WINDOW = timedelta(weeks=8)  # how far back a goal's last three measures are looked for


async def early_warnings(
    store: Store, settings: Settings, school_id: int, now: datetime
) -> dict[int, list[Warning]]:
    """Student id -> what their teachers should look at this week."""
    found: defaultdict[int, list[Warning]] = defaultdict(list)
    weeks = settings.progress.stale_weeks
    stale: defaultdict[int, list[str]] = defaultdict(list)
    for student_id, tag, last in await store.weekly.last_measured(school_id):
        if last < now - timedelta(weeks=weeks):
            stale[student_id].append(f"#{tag}")
    for student_id, tags in stale.items():
        found[student_id].append(("progress.stale", {"tags": ", ".join(tags), "count": weeks}))
    for student_id, tag in _drifting(
        await store.weekly.recent_measures(school_id, now - DRIFT_WINDOW)
    ):
        found[student_id].append(("progress.drifting", {"tag": tag}))
    counts = await store.weekly.kind_counts(school_id, now - BALANCE_WINDOW)
    for student_id, by_kind in counts.items():
        wins = by_kind.get(EntryKind.WIN, 0)
        concerns = by_kind.get(EntryKind.CONCERN, 0) + by_kind.get(EntryKind.URGENT, 0)
        if concerns >= BALANCE_RATIO and concerns >= BALANCE_RATIO * wins:
            found[student_id].append(("progress.balance", {"concerns": concerns, "count": wins}))
    return found


def _drifting(rows: list[tuple[int, int, str, float, float]]) -> list[tuple[int, str]]:
    """(student, tag) of goals whose last three values each stood further from the target."""
    series: defaultdict[tuple[int, int, str, float], list[float]] = defaultdict(list)
    for student_id, goal_id, tag, target, value in rows:
        series[(student_id, goal_id, tag, target)].append(value)
    drifting = []
    for (student_id, _, tag, target), values in series.items():
        gaps = [abs(target - value) for value in values[-3:]]
        if len(gaps) == 3 and gaps[0] < gaps[1] < gaps[2]:
            drifting.append((student_id, tag))
    return drifting
