"""The [email] section: what a school's IT person writes, and the errors they get."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.platforms import EmailConfig, load_settings
from bot.config_values import ConfigError

ENABLED = """[email]
enabled = true
from_address = "Tandem at Oak <tandem@oak.example>"
reply_domain = "oak.example"
smtp_host = "smtp.oak.example"
smtp_username = "tandem@oak.example"
imap_host = "imap.oak.example"
imap_username = "tandem@oak.example"
"""
PASSWORDS = {"TANDEM_EMAIL_SMTP_PASSWORD": "smtp-pw", "TANDEM_EMAIL_IMAP_PASSWORD": "imap-pw"}


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> EmailConfig:
    path = tmp_path / "tandem.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ or {}).platform(EmailConfig)


def test_passwords_come_from_the_environment_and_never_show(tmp_path: Path) -> None:
    config = load(tmp_path, ENABLED, PASSWORDS)

    assert config.enabled
    assert (config.smtp_password, config.imap_password) == ("smtp-pw", "imap-pw")
    assert "smtp-pw" not in repr(config) and "imap-pw" not in repr(config)


def test_the_defaults_are_the_issues(tmp_path: Path) -> None:
    config = load(tmp_path, "")

    assert not config.enabled
    assert (config.smtp_port, config.smtp_security) == (587, "starttls")
    assert (config.imap_port, config.imap_security, config.imap_folder) == (993, "tls", "INBOX")
    assert config.poll_seconds == 30


def test_enabled_without_a_mailbox_password_names_the_key_and_its_variable(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, ENABLED, {"TANDEM_EMAIL_SMTP_PASSWORD": "x"})

    assert caught.value.key == "email.imap_password"
    assert "TANDEM_EMAIL_IMAP_PASSWORD" in caught.value.why


def test_an_unknown_security_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, '[email]\nsmtp_security = "ssl"\n')

    assert caught.value.key == "email.smtp_security"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('from_address = "just a name"', "email.from_address"),
        ('reply_domain = "not a domain!"', "email.reply_domain"),
        ("smtp_port = 70000", "email.smtp_port"),
        ("poll_seconds = 0", "email.poll_seconds"),
    ],
)
def test_a_bad_value_names_its_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"[email]\n{line}\n")

    assert caught.value.key == key


def test_reply_address_is_the_plus_address_on_the_reply_domain(tmp_path: Path) -> None:
    config = load(tmp_path, ENABLED, PASSWORDS)

    assert config.sender_address == "tandem@oak.example"
    assert config.reply_address("k3y") == "tandem+k3y@oak.example"


def test_a_ca_file_that_is_not_there_is_named_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "school-ca.pem"
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, ENABLED + f'smtp_ca_file = "{missing}"\n', PASSWORDS)

    assert "email.smtp_ca_file" in str(caught.value)
    assert f"file not found: {missing}" in str(caught.value)


def test_a_ca_file_that_holds_no_certificate_is_refused_at_start(tmp_path: Path) -> None:
    wrong = tmp_path / "notes.txt"
    wrong.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, ENABLED + f'imap_ca_file = "{wrong}"\n', PASSWORDS)

    assert "email.imap_ca_file" in str(caught.value)
    assert f"{wrong}: cannot read" in str(caught.value)
