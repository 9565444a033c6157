"""`[school] catalog_dir`: a school rewords any of Tandem's messages with its own .po files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.platforms import load_settings
from bot.config import ConfigError
from bot.i18n import translate
from bot.i18n.school_catalog import use_school_catalog
from tests.conftest import DemoSchool

OUR_WIN = """
msgctxt "entry.logged_win"
msgid "Logged a win for {student}."
msgstr "Wonderful! {student}'s win is in the record."
"""
NUESTRO_LOGRO = """
msgctxt "entry.logged_win"
msgid "Logged a win for {student}."
msgstr "¡Qué bien! El logro de {student} ya está en el expediente."
"""


@pytest.fixture(autouse=True)
def tandems_own_wording() -> Iterator[None]:
    """Each test starts, and leaves, with no school catalog in use."""
    use_school_catalog({})
    yield
    use_school_catalog({})


def school_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "our-words"
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def config_with(tmp_path: Path, folder: Path) -> Path:
    config = tmp_path / "tandem.toml"
    config.write_text(f'[school]\ncatalog_dir = "{folder}"\n', encoding="utf-8")
    return config


async def test_a_school_rewords_one_message_and_keeps_tandems_for_the_rest(
    school: DemoSchool, tmp_path: Path
) -> None:
    folder = school_folder(tmp_path, {"en/LC_MESSAGES/tandem.po": OUR_WIN})
    load_settings(config_with(tmp_path, folder), environ={})

    win = await school.say(school.teacher, "+ Sam read a whole page aloud")
    concern = await school.say(school.teacher, "- Sam hit a peer at recess")

    assert win.text.startswith("Wonderful! Sam Rivera's win is in the record.")
    assert concern.text.startswith(translate("en", "entry.logged_concern", student="Sam Rivera"))


async def test_a_spanish_override_reaches_spanish_readers_only(
    school: DemoSchool, tmp_path: Path
) -> None:
    folder = school_folder(tmp_path, {"es.po": NUESTRO_LOGRO})
    load_settings(config_with(tmp_path, folder), environ={})

    luis = await school.say(school.spanish_parent, "+ Sam comió todo")
    ortiz = await school.say(school.teacher, "+ Sam read a whole page aloud")

    assert luis.text.startswith("¡Qué bien! El logro de Sam Rivera ya está en el expediente.")
    assert ortiz.text.startswith("Logged a win for Sam Rivera.")


def test_a_broken_file_is_a_config_error_naming_the_file_and_line(tmp_path: Path) -> None:
    folder = school_folder(tmp_path, {"es.po": NUESTRO_LOGRO + "esto no es gettext\n"})

    with pytest.raises(ConfigError) as err:
        load_settings(config_with(tmp_path, folder), environ={})

    assert str(err.value).startswith(f"school.catalog_dir: {folder / 'es.po'}:5: ")


def test_a_message_tandem_does_not_have_is_refused_with_its_line(tmp_path: Path) -> None:
    folder = school_folder(
        tmp_path, {"en.po": OUR_WIN + '\nmsgctxt "entry.logged_hooray"\nmsgid "x"\nmsgstr "y"\n'}
    )

    with pytest.raises(ConfigError) as err:
        load_settings(config_with(tmp_path, folder), environ={})

    assert f"{folder / 'en.po'}:7: 'entry.logged_hooray' is not one of Tandem's messages" in str(
        err.value
    )


def test_a_placeholder_tandem_does_not_fill_is_refused(tmp_path: Path) -> None:
    folder = school_folder(tmp_path, {"en.po": OUR_WIN.replace("{student}'s", "{child}'s")})

    with pytest.raises(ConfigError) as err:
        load_settings(config_with(tmp_path, folder), environ={})

    assert "en.po:3: entry.logged_win: placeholders ['child'] differ from ['student']" in str(
        err.value
    )


def test_a_file_for_a_language_tandem_does_not_write_is_refused(tmp_path: Path) -> None:
    folder = school_folder(tmp_path, {"klingon.po": OUR_WIN})

    with pytest.raises(ConfigError, match="'klingon' is not a language Tandem writes"):
        load_settings(config_with(tmp_path, folder), environ={})


def test_a_catalog_dir_that_is_not_there_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        load_settings(config_with(tmp_path, tmp_path / "missing"), environ={})
