from tests.conftest import DemoSchool


async def test_teacher_win_shows_in_parent_log(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "+ Sam read a whole page aloud")
    print(said)
    log = await school.say(school.parent, "/log Sam")
    print(log.text)
    other = await school.say(school.parent_of_maya, "/log Sam")
    missing = await school.say(school.parent_of_maya, "/log Zed")
    assert other.text == missing.text
    assert "page" in log.text
