"""Vietnamese, Arabic and Simplified Chinese: plurals, right-to-left messages, the report's PDF
and charts, and a week in the demo in each."""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from bidi import get_display
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from bot.charts import ChartData, ChartLabels, Point, draw_png
from bot.i18n import Translator, find_language, language_name, translate
from bot.i18n import compile as compile_module
from bot.i18n.compile import missing_entries, problems, sources
from bot.i18n.right_to_left import bare_runs, isolate
from bot.script_layout import drawn_order, without_bidi_controls
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, chicago
from tests.unit.test_console_demo import run_demo
from tests.unit.test_progress_report import measured_term

NEW = ("vi", "ar", "zh_Hans")
ISOLATES = "\u2066\u2067\u2068"
POP = "\u2069"


# --- the catalogs ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", NEW)
def test_each_new_catalog_says_no_native_speaker_has_reviewed_it(language: str) -> None:
    header = sources()[language].read_text(encoding="utf-8").split('msgid ""')[0]

    assert "NOT YET REVIEWED BY A NATIVE SPEAKER" in header


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "لا ملاحظات"),
        (1, "ملاحظة واحدة"),
        (2, "ملاحظتان"),
        (3, "3 ملاحظات"),
        (11, "11 ملاحظة"),
        (100, "100 ملاحظة"),
        (103, "103 ملاحظات"),
    ],
)
def test_arabic_counts_take_all_six_plural_forms(count: int, expected: str) -> None:
    said = without_bidi_controls(Translator("ar")("count.notes", count=count))

    assert said == expected


@pytest.mark.parametrize(
    ("language", "expected"), [("vi", "Đã ghi một tiến bộ"), ("zh_Hans", "已为")]
)
def test_vietnamese_and_chinese_have_one_form_for_every_count(language: str, expected: str) -> None:
    t = Translator(language)

    assert t("count.notes", count=1).replace("1", "N") == t("count.notes", count=7).replace(
        "7", "N"
    )
    assert t("entry.logged_win", student="Sam").startswith(expected)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("vi", "3 tháng 12"), ("ar", "3 ديسمبر"), ("zh_Hans", "12月3日")],
)
def test_dates_are_written_the_readers_way(language: str, expected: str) -> None:
    assert Translator(language).day_month(datetime(2026, 12, 3, tzinfo=UTC).date()) == expected


@pytest.mark.parametrize(
    ("typed", "language"),
    [
        ("vi", "vi"),
        ("Tiếng Việt", "vi"),
        ("AR", "ar"),
        ("العربية", "ar"),
        ("zh_hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("简体中文", "zh_Hans"),
    ],
)
async def test_language_takes_a_code_or_the_languages_own_name(
    school: DemoSchool, typed: str, language: str
) -> None:
    said = await school.say(school.parent, f"/language {typed}")

    assert said.text == translate(language, "settings.language_set")
    assert find_language(language) == language


def test_the_chinese_catalog_is_named_as_chinese_readers_name_it() -> None:
    assert [language_name(code) for code in NEW] == ["Tiếng Việt", "العربية", "简体中文"]


# --- Arabic, right to left ---------------------------------------------------------------------


def _outside_isolates(line: str) -> str:
    """The line with every isolated run blanked: what the paragraph's own direction rests on."""
    depth, kept = 0, []
    for char in line:
        if char in ISOLATES:
            depth += 1
        elif char == POP:
            depth = max(0, depth - 1)
        kept.append(char if depth == 0 and char not in ISOLATES + POP else " ")
    return "".join(kept)


def _arabic_lines() -> list[tuple[str, str]]:
    with sources()["ar"].open("rb") as handle:
        arabic = read_po(handle, locale="ar")
    lines = []
    for message in arabic:
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in forms if message.id else ():
            lines += [(str(message.context), line) for line in form.split("\n")]
    return lines


def test_every_arabic_line_reads_right_to_left_with_its_latin_runs_isolated() -> None:
    """A line that opens with a Latin name or a command would be laid out left to right, and a
    bare `/command` in an Arabic sentence shows its slash at the wrong end."""
    wrong = []
    for key, line in _arabic_lines():
        own = _outside_isolates(line)
        strong = [
            unicodedata.bidirectional(char)
            for char in own
            if unicodedata.bidirectional(char) in ("L", "R", "AL")
        ]
        alone = re.fullmatch(r"\{\w+\}", line.strip()) is not None  # a note's own paragraph
        arabic = {"R", "AL"} & set(strong)  # a line of Latin only (`true/false`) is not mixed
        if not alone and arabic and strong[0] == "L":
            wrong.append((key, "left-to-right line", line))
        command = re.search(r"(?<![A-Za-z0-9/])/[a-z]", own)  # `/log`, not `America/Chicago`
        if command or (not alone and re.search(r"\{\w+\}", own)):
            wrong.append((key, "command or value outside an isolate", line))

    assert wrong == []


def test_a_command_in_an_arabic_reply_keeps_its_slash_in_front() -> None:
    shown = without_bidi_controls(get_display(translate("ar", "original.usage")))
    unprotected = get_display(without_bidi_controls(translate("ar", "original.usage")))

    assert "/original 12" in shown
    assert "/original 12" not in unprotected  # the isolates are what keep it whole


def test_an_arabic_reply_keeps_a_latin_name_and_a_number_in_their_places() -> None:
    said = translate("ar", "report.sent", student="Sam Rivera", start="1", end="5", count=3)

    shown = without_bidi_controls(get_display(said))

    assert "Sam Rivera" in shown
    assert shown.startswith(".")  # the sentence's full stop ends it on the left, as Arabic reads


# --- the PDF report ----------------------------------------------------------------------------


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescaped(literal: bytes) -> bytes:
    """A PDF string literal's bytes: `\\(`, `\\)`, `\\\\`, `\\n`... and octal `\\ddd`."""

    def one(found: re.Match[bytes]) -> bytes:
        code = found.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return _ESCAPES.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal, flags=re.S)


def _drawn_lines(pdf: bytes) -> list[str]:
    """Each text line of the first page as its glyphs are drawn, left to right; an empty box
    (glyph 0, `.notdef`) as U+FFFD. A ligature the PDF maps to no text is left out."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    to_text = {}
    for name, font in page["/Resources"]["/Font"].items():
        cmap = font.get_object()["/ToUnicode"].get_object().get_data().decode()
        to_text[name] = {
            int(glyph, 16): "".join(chr(int(text[i : i + 4], 16)) for i in range(0, len(text), 4))
            for glyph, text in re.findall(r"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]+)>", cmap)
        }
    content = page.get_contents().get_data().decode("latin-1")
    lines: list[str] = []
    font = ""
    for found in re.finditer(r"(/F\d+) [\d.]+ Tf|BT|\(((?:\\.|[^\\)])*)\) Tj", content, re.S):
        if found.group(1):
            font = found.group(1)
        elif found.group(0) == "BT":
            lines.append("")
        else:
            raw = _unescaped(found.group(2).encode("latin-1"))
            glyphs = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
            lines[-1] += "".join(
                "\ufffd" if glyph == 0 else to_text[font].get(glyph, "") for glyph in glyphs
            )
    return [line for line in lines if line]


async def _report(school: DemoSchool, language: str) -> bytes:
    await measured_term(school)
    await school.say(school.parent, f"/language {language}")
    said = await school.say(school.parent, "/report Sam")
    attachment = said.replies[0].attachment
    assert attachment is not None
    return attachment.data


async def test_an_arabic_report_is_drawn_right_to_left_with_joined_letters(
    school: DemoSchool,
) -> None:
    pdf = await _report(school, "ar")

    drawn = _drawn_lines(pdf)
    title = without_bidi_controls(translate("ar", "report.title", student="Sam Rivera"))
    # Drawn right to left: the name (left to right) first from the left, the Arabic reversed.
    assert drawn[0] == "Sam Rivera :" + title.split(":")[0][::-1]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "تقرير" in text and "\u2068" not in text
    assert "\ufffd" not in "".join(drawn)
    font = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]["/F1"].get_object()
    embedded = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]["/FontFile2"]
    glyphs = TTFont(io.BytesIO(embedded.get_object().get_data())).getGlyphOrder()
    # Letters joined: the font's initial/medial/final forms were drawn, not the bare letters.
    assert any(name.startswith("uniFE") for name in glyphs)


async def test_a_chinese_report_shows_its_characters_not_empty_boxes(school: DemoSchool) -> None:
    pdf = await _report(school, "zh_Hans")

    # pypdf reads this font's two-byte codes with a NUL before each character; viewers do not.
    text = "".join(
        "".join(page.extract_text().replace("\x00", "").split())
        for page in PdfReader(io.BytesIO(pdf)).pages
    )
    assert "进展报告：SamRivera" in text
    assert "目标#reading" in text
    assert "\ufffd" not in "".join(_drawn_lines(pdf))


async def test_a_vietnamese_report_keeps_its_accents(school: DemoSchool) -> None:
    pdf = await _report(school, "vi")

    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Báo cáo tiến bộ: Sam Rivera" in text


# --- the charts --------------------------------------------------------------------------------


def _chart(language: str) -> ChartData:
    t = Translator(language)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    return ChartData(
        points=tuple(
            Point(start + timedelta(days=day), 40 + day, home=day % 2 == 0) for day in range(10)
        ),
        labels=ChartLabels(
            title=t("report.goal", tag="reading"),
            value_axis=t("progress.axis_percent"),
            school=t("progress.school"),
            home=t("progress.home"),
            target=t("progress.target"),
            baseline=t("progress.baseline"),
        ),
        target=80,
        percent=True,
    )


@pytest.mark.parametrize("language", NEW)
def test_a_chart_in_each_new_language_has_a_glyph_for_every_label(language: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        png = draw_png(_chart(language))

    assert png.startswith(b"\x89PNG")


def test_an_arabic_chart_label_is_joined_and_in_drawing_order() -> None:
    label = drawn_order(translate("ar", "progress.home"))  # البيت

    assert label == "\ufe96\ufef4\ufe92\ufedf\ufe8d"  # its letters joined, right to left


# --- a week in the demo, in each language ------------------------------------------------------

WEEK = [
    "/as Dana",
    "/language Tiếng Việt",
    "+ Sam ate well tonight",
    "/language العربية",
    "+ Sam helped set the table",
    "/language 简体中文",
    "+ Sam tied his shoes",
    "/settings",
    "/quit",
]


def test_a_parent_moves_through_the_three_languages_in_the_demo(tmp_path: Path) -> None:
    week = run_demo(tmp_path / "demo.db", WEEK)

    for typed, language, note in [
        ("/language Tiếng Việt", "vi", "+ Sam ate well tonight"),
        ("/language العربية", "ar", "+ Sam helped set the table"),
        ("/language 简体中文", "zh_Hans", "+ Sam tied his shoes"),
    ]:
        assert week.answer("Dana Rivera", typed) == [translate(language, "settings.language_set")]
        logged = translate(language, "entry.logged_win", student="Sam Rivera")
        assert week.answer("Dana Rivera", note)[0] == logged
    settings = week.answer("Dana Rivera", "/settings")
    assert settings[1].startswith("语言：简体中文（/language en|es|vi|ar|zh_Hans）")
    assert "时区：America/Chicago" in "\n".join(settings)


# --- keeping the new catalogs complete ---------------------------------------------------------


def test_the_check_names_a_command_left_bare_in_arabic_and_isolate_wraps_it() -> None:
    english = Catalog(locale="en")
    english.add("For example: /original 12", context="original.usage")
    arabic = Catalog(locale="ar")
    arabic.add("For example: /original 12", "مثلًا: /original 12", context="original.usage")

    found = list(problems("ar", arabic, english))
    fixed = isolate("مثلًا: /original 12 أو {name}")

    assert any("'/original 12' is not in an isolate" in problem for problem in found)
    assert fixed == "مثلًا: \u2068/original 12\u2069 أو \u2068{name}\u2069"
    assert list(bare_runs(fixed)) == []


def test_missing_lists_the_messages_a_catalog_lacks_ready_to_translate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "messages.pot"
    po = tmp_path / "locale" / "ar" / "LC_MESSAGES" / "tandem.po"
    po.parent.mkdir(parents=True)
    english = Catalog(locale="en")
    english.add("Hello", context="greeting.hello")
    english.add(("{count} note", "{count} notes"), context="count.notes")
    arabic = Catalog(locale="ar")
    arabic.add("Hello", "مرحبًا", context="greeting.hello")
    for path, catalog in ((template, english), (po, arabic)):
        with path.open("wb") as handle:
            write_po(handle, catalog)
    monkeypatch.setattr(compile_module, "TEMPLATE", template)
    monkeypatch.setattr(compile_module, "LOCALES", tmp_path / "locale")

    entries = missing_entries("ar")

    assert 'msgctxt "count.notes"' in entries and "greeting.hello" not in entries
    assert entries.count("msgstr[") == 6  # Arabic's six plural forms, each to fill in


# --- the weekly summary's glossary -------------------------------------------------------------


@pytest.mark.parametrize("language", NEW)
async def test_the_summary_explains_special_education_words_in_each_new_language(
    school: DemoSchool, mail: Mail, language: str
) -> None:
    await school.say(school.parent, f"/language {language}")
    await school.say(school.teacher, "+ Sam used his AAC device to ask for a break, per his IEP")
    school.clock.set(chicago(2026, 11, 27, 15))

    await mail.summary()

    letter = (await mail.letter(school.parent, "summary")).text
    t = Translator(language)
    assert letter.split("\n\n")[-1].splitlines() == [
        t("summary.glossary"),
        f"• {t('glossary.iep')}",
        f"• {t('glossary.aac')}",
    ]
    assert letter.startswith(
        t("summary.title", student="Sam Rivera", start=t.day_month(chicago(2026, 11, 23, 0).date()))
    )


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("؟ Sam: هل يستطيع أخذ سماعاته في الحافلة", "entry.logged_question"),
        ("？Sam：可以在校车上戴耳机吗", "entry.logged_question"),
        ("＋Sam 读完了一整页", "entry.logged_win"),
    ],
)
async def test_arabic_and_chinese_keyboards_signs_log_a_note(
    school: DemoSchool, typed: str, key: str
) -> None:
    said = await school.say(school.teacher, typed)

    assert said.text.startswith(translate("en", key, student="Sam Rivera"))


async def test_a_full_width_colon_names_the_student(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "Sam：睡得不好")

    assert said.text.startswith(translate("en", "entry.logged_note", student="Sam Rivera"))
