"""The translation providers' adapters against fake servers that check every request against
the providers' published API descriptions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.bootstrap import translation_provider
from adapters.translation_deepl import DeepL
from adapters.translation_libre import LibreTranslate
from bot.translation import NameMask, NoteTranslator, Shown, Words
from bot.translation_config import TranslationConfig
from tests.adapters.fake_translation import FakeTranslation, OpenApiRequests
from tests.conftest import FakeClock

NAMES = ("Sam Rivera", "Ms. Ortiz", "Ana Gómez")
WIN = Words("Sam read a whole page aloud with Ms. Ortiz", "en")
HOME = Words("Sam durmió mal y estaba ansioso esta mañana", "es")


@pytest.fixture
async def fake(specs_dir: Path) -> AsyncIterator[FakeTranslation]:
    server = FakeTranslation(specs_dir)
    await server.start()
    yield server
    await server.stop()
    assert server.violations == []


def translator(
    fake: FakeTranslation,
    provider: str = "libretranslate",
    timeout_seconds: float = 0.3,
    **overrides: object,
) -> NoteTranslator:
    config = TranslationConfig(
        provider=provider,  # type: ignore[arg-type]
        url=fake.url,
        api_key="k-123",
        timeout_seconds=timeout_seconds,
        **overrides,  # type: ignore[arg-type]
    )
    adapter = translation_provider(config)
    return NoteTranslator(adapter, config, FakeClock(), ("en", "es"))


async def test_libretranslate_translates_a_batch_in_one_request(fake: FakeTranslation) -> None:
    notes = translator(fake)
    shown = await notes.translate([WIN, WIN], "es", NAMES)

    assert [s.shown for s in shown] == [Shown.TRANSLATED, Shown.TRANSLATED]
    assert shown[0].text == "<es> Sam read a whole page aloud with Ms. Ortiz"
    assert len(fake.requests) == 1
    body = fake.requests[0].body
    assert (body["source"], body["target"], body["format"], body["api_key"]) == (
        "en",
        "es",
        "text",
        "k-123",
    )
    await notes.provider.close()  # type: ignore[union-attr]


async def test_deepl_sends_the_key_in_its_header_and_translates(fake: FakeTranslation) -> None:
    notes = translator(fake, "deepl")
    shown = await notes.translate([HOME], "en", NAMES)

    assert shown[0].shown is Shown.TRANSLATED
    assert shown[0].text.startswith("<en-us> Sam")
    request = fake.requests[0]
    assert request.path == "/v2/translate"
    assert request.headers["Authorization"] == "DeepL-Auth-Key k-123"
    assert (request.body["source_lang"], request.body["target_lang"]) == ("ES", "EN-US")
    await notes.provider.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("provider", ["libretranslate", "deepl"])
async def test_no_request_holds_a_name_and_the_reader_gets_them_back(
    fake: FakeTranslation, provider: str
) -> None:
    notes = translator(fake, provider)
    words = Words("Ana and sam rivera played; Ortiz says Sam was proud", "en")
    shown = await notes.translate([words], "es", NAMES)

    sent = " ".join(fake.sent_texts).lower()
    for name in ("sam", "rivera", "ortiz", "ana", "gómez"):
        assert name not in sent
    assert "Ana and sam rivera played; Ortiz says Sam was proud" in shown[0].text
    await notes.provider.close()  # type: ignore[union-attr]


async def test_a_note_already_in_the_readers_language_is_not_sent(
    fake: FakeTranslation,
) -> None:
    notes = translator(fake)
    shown = await notes.translate([WIN], "en", NAMES)

    assert shown[0] == (shown[0].__class__(WIN.text, Shown.ORIGINAL, "en"))
    assert fake.requests == []
    await notes.provider.close()  # type: ignore[union-attr]


async def test_the_language_is_detected_locally_not_taken_from_the_author(
    fake: FakeTranslation,
) -> None:
    notes = translator(fake)
    # A Spanish note by someone who reads Tandem in English is still Spanish.
    shown = await notes.translate([Words(HOME.text, "en")], "en", NAMES)

    assert shown[0].source == "es"
    assert fake.requests[0].body["source"] == "es"
    await notes.provider.close()  # type: ignore[union-attr]


async def test_provider_none_makes_no_call(fake: FakeTranslation) -> None:
    notes = translator(fake, "none")
    shown = await notes.translate([WIN, HOME], "es", NAMES)

    assert [s.text for s in shown] == [WIN.text, HOME.text]
    assert all(s.shown is Shown.ORIGINAL for s in shown)
    assert fake.requests == []


@pytest.mark.parametrize("behaviour", ["fail", "hang", "refuse", "quota"])
@pytest.mark.parametrize("provider", ["libretranslate", "deepl"])
async def test_a_failing_provider_leaves_the_original_and_one_log_line(
    fake: FakeTranslation, provider: str, behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake.behaviour = behaviour  # type: ignore[assignment]
    notes = translator(fake, provider)
    with caplog.at_level(logging.WARNING, logger="bot.translation"):
        shown = await notes.translate([WIN, WIN], "es", NAMES)

    # DeepL's 456 is its quota spent: the reader is told the month's allowance is used up.
    failed = Shown.OVER_LIMIT if (provider, behaviour) == ("deepl", "quota") else Shown.FAILED
    assert [(s.text, s.shown) for s in shown] == [(WIN.text, failed)] * 2
    lines = [r for r in caplog.records if r.name == "bot.translation"]
    assert len(lines) == 1
    assert "Sam" not in lines[0].getMessage()
    await notes.provider.close()  # type: ignore[union-attr]


async def test_past_the_monthly_limit_nothing_is_sent(fake: FakeTranslation) -> None:
    notes = translator(fake, monthly_char_limit=60)
    first = await notes.translate([WIN], "es", NAMES)
    second = await notes.translate([WIN], "es", NAMES)

    assert (first[0].shown, second[0].shown) == (Shown.TRANSLATED, Shown.OVER_LIMIT)
    assert len(fake.requests) == 1
    await notes.provider.close()  # type: ignore[union-attr]


def test_the_providers_are_chosen_by_config() -> None:
    assert translation_provider(TranslationConfig()) is None
    assert isinstance(
        translation_provider(TranslationConfig("libretranslate", "http://x")), LibreTranslate
    )
    assert isinstance(translation_provider(TranslationConfig("deepl", "http://x", "k")), DeepL)


def test_the_fakes_checker_refuses_what_the_providers_would(specs_dir: Path) -> None:
    libre = OpenApiRequests.load(specs_dir / "libretranslate-api.json")
    deepl = OpenApiRequests.load(specs_dir / "deepl-api.json")

    assert libre.problems("POST", "/translate", {"q": ["x"], "source": "en"}, {}) == [
        "required parameter 'target' missing"
    ]
    assert libre.problems(
        "POST", "/translate", {"q": 1, "source": "en", "target": "es", "format": "md"}, {}
    ) == ["q: expected string, got int", "format: 'md' is not one of ['text', 'html']"]
    assert deepl.problems("POST", "/v2/translate", {"text": ["x"], "target_lang": "ES"}, {}) == [
        "header 'Authorization' missing or malformed"
    ]
    assert deepl.problems(
        "POST", "/v2/translate", {"text": "x", "target_lang": "ES", "glossary": 1}, {}
    )[:1] == ["unknown parameter 'glossary'"]


def test_names_are_masked_whole_and_word_by_word_and_restored() -> None:
    mask = NameMask(["Sam Rivera", "Ms. Ortiz", "Ana Gómez"])

    masked = mask.mask("Sam's mom, sam rivera's aunt, ORTIZ and Ms. Ortiz met Ana Gómez.")

    assert masked.text == "⟦0⟧'s mom, ⟦1⟧'s aunt, ⟦2⟧ and ⟦3⟧ met ⟦4⟧."
    assert masked.restore(masked.text.replace("⟦3⟧", "⟦ 3 ⟧")) == (
        "Sam's mom, sam rivera's aunt, ORTIZ and Ms. Ortiz met Ana Gómez."
    )
    assert mask.mask("Samuel and Anastasia").text == "Samuel and Anastasia"


async def test_many_batches_to_a_hanging_provider_wait_one_timeout_and_ask_once(
    fake: FakeTranslation, caplog: pytest.LogCaptureFixture
) -> None:
    fake.behaviour = "hang"
    # Long enough for the fake, in this same loop, to have read the one request on a busy host
    # (at 0.3 s a loaded CI machine gave up before the fake had recorded it).
    notes = translator(fake, timeout_seconds=1.0)
    notes.guesser.warm()  # as `tandem run` does at start-up: loading the models is not waiting
    loop = asyncio.get_running_loop()
    started = loop.time()

    with caplog.at_level(logging.WARNING, logger="bot.translation"):
        shown = await notes.translate([WIN] * 60, "es", NAMES)  # three batches of 25

    assert loop.time() - started < 2 * notes.config.timeout_seconds
    assert {s.shown for s in shown} == {Shown.FAILED}
    assert len(fake.requests) == 1
    assert len([r for r in caplog.records if r.name == "bot.translation"]) == 1
    await notes.provider.close()  # type: ignore[union-attr]


async def test_after_a_failure_the_provider_rests_a_minute_then_is_asked_again(
    fake: FakeTranslation,
) -> None:
    fake.behaviour = "fail"
    clock = FakeClock()
    config = TranslationConfig("libretranslate", fake.url, timeout_seconds=0.3)
    notes = NoteTranslator(translation_provider(config), config, clock, ("en", "es"))
    await notes.translate([WIN], "es", NAMES)
    fake.behaviour = "answer"

    resting = await notes.translate([WIN], "es", NAMES)
    clock.advance(seconds=61)
    rested = await notes.translate([WIN], "es", NAMES)

    assert (resting[0].shown, rested[0].shown) == (Shown.FAILED, Shown.TRANSLATED)
    assert len(fake.requests) == 2
    await notes.provider.close()  # type: ignore[union-attr]
