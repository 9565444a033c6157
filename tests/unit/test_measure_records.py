"""Measures in the record: /record, `tandem export`, `tandem forget` and the retention purge."""

from __future__ import annotations

import csv
import io
import json

from storage.models import Measure
from tests.conftest import DemoSchool
from tests.unit.conftest import Cli, Mail, Record

READING = "/goal Sam reading: Reads a short passage aloud | target 80% | baseline 40%"


async def measured_week(school: DemoSchool) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    school.clock.advance(minutes=5)
    await school.say(school.parent, "+ Sam read 9/10 words with a verbal prompt #reading")


async def test_the_record_shows_each_measure_under_its_note(school: DemoSchool) -> None:
    await measured_week(school)

    shown = await school.say(school.parent, "/record Sam")

    assert "measure: #reading 60 % (6/10)" in shown.text
    assert "measure: #reading 90 % (9/10), verbal prompt (home)" in shown.text


async def test_the_json_export_has_every_measure_field(school: DemoSchool, cli: Cli) -> None:
    await measured_week(school)

    data = json.loads((await cli("export", "--student", "Sam", "--format", "json")).stdout)

    home = data["measures"][1]
    assert home["goal"] == "reading" and home["setting"] == "home"
    assert (home["measure_kind"], home["value"], home["correct"], home["trials"]) == (
        "percent",
        90,
        9,
        10,
    )
    assert home["prompt"] == "verbal"


async def test_the_csv_export_has_one_column_per_measure_field(
    school: DemoSchool, cli: Cli
) -> None:
    await measured_week(school)

    run = await cli("export", "--student", "Sam", "--format", "csv")

    rows = [row for row in csv.DictReader(io.StringIO(run.stdout)) if row["record"] == "measure"]
    assert [(row["goal"], row["value"], row["correct"], row["trials"]) for row in rows] == [
        ("reading", "60.0", "6", "10"),
        ("reading", "90.0", "9", "10"),
    ]
    assert [row["setting"] for row in rows] == ["school", "home"]


async def test_forget_removes_the_students_measures(
    school: DemoSchool, cli: Cli, record: Record
) -> None:
    await measured_week(school)

    run = await cli("forget", "--student", "Sam Rivera", "--yes", "--json")

    assert run.json["deleted"]["measures"] == 2
    assert await record.rows(Measure) == []


async def test_the_retention_purge_takes_old_measures_with_their_notes(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await measured_week(school)
    school.clock.advance(days=731)

    purged = await mail.purge()

    assert purged["measures"] == 2
    assert await record.rows(Measure) == []
