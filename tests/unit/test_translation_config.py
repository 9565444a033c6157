"""The [translation] section: a provider and what it needs, checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.platforms import load_settings
from bot.config import ConfigError


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> object:
    path = tmp_path / "tandem.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ or {}).translation


def test_translation_is_off_unless_configured(tmp_path: Path) -> None:
    config = load_settings(None, {}).translation

    assert (config.provider, config.enabled, config.timeout_seconds) == ("none", False, 5)


def test_libretranslate_needs_its_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, '[translation]\nprovider = "libretranslate"\n')

    assert error.value.key == "translation.url"


def test_deepl_needs_a_key_named_with_its_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, '[translation]\nprovider = "deepl"\nurl = "https://api-free.deepl.com"\n')

    assert error.value.key == "translation.api_key"
    assert "TANDEM_TRANSLATION_API_KEY" in str(error.value)


def test_the_key_may_come_from_the_environment_and_is_never_printed(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[translation]\nprovider = "deepl"\nurl = "https://api-free.deepl.com/"\n',
        {"TANDEM_TRANSLATION_API_KEY": "secret-key-123"},
    )

    assert config.api_key == "secret-key-123"  # type: ignore[attr-defined]
    assert config.url == "https://api-free.deepl.com"  # type: ignore[attr-defined]
    assert "secret-key-123" not in repr(config)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('provider = "google"', "translation.provider"),
        ('url = "ftp://x"', "translation.url"),
        ("timeout_seconds = 0", "translation.timeout_seconds"),
        ("monthly_char_limit = -1", "translation.monthly_char_limit"),
    ],
)
def test_a_bad_value_names_its_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, f"[translation]\n{line}\n")

    assert error.value.key == key
