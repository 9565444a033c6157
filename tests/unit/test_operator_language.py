"""The operator reads `tandem`'s refusals in the school's language, or in LANG before there is
a school: the config validator's and the CLI's messages come from the catalogs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.platforms import operator_language
from bot.i18n import languages, messages, translate
from tests.unit.test_cli import db_url, oak, tandem, tandem_process

__all__ = ["db_url", "oak"]  # the CLI tests' fixtures: a fresh database, and Oak School

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"


def spanish_school(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "oak.toml"
    config.write_text(f'[school]\nlanguage = "es"\n{extra}', encoding="utf-8")
    return config


def test_a_bad_value_is_named_in_the_schools_language(oak: str, tmp_path: Path) -> None:
    config = spanish_school(tmp_path, 'timezone = "Mars/Base"\n')

    run = tandem("status", "--config", str(config))

    assert run.error == f"tandem: school.timezone: {translate('es', 'operator.timezone')}"
    assert "no es una zona horaria" in run.error


def test_an_unknown_key_is_refused_in_spanish(oak: str, tmp_path: Path) -> None:
    config = spanish_school(tmp_path, 'nombre = "Roble"\n')

    run = tandem("status", "--config", str(config))

    assert run.error == "tandem: school.nombre: clave desconocida"


def test_a_cli_refusal_is_in_the_schools_language(oak: str, tmp_path: Path) -> None:
    config = spanish_school(tmp_path)

    run = tandem("invite", "--role", "boss", "--student", "Sam", "--config", str(config))

    assert run.error == "tandem: --role: debe ser parent, teacher o admin, no 'boss'"


def test_the_next_command_without_the_spanish_config_speaks_english_again(
    oak: str, tmp_path: Path
) -> None:
    tandem("invite", "--role", "boss", "--config", str(spanish_school(tmp_path)))

    run = tandem("invite", "--role", "boss", "--student", "Sam")

    assert run.error == "tandem: --role: must be parent, teacher or admin, not 'boss'"


def test_before_any_school_the_operators_lang_is_used(db_url: str, tmp_path: Path) -> None:
    run = tandem_process(
        "status", "--config", "nowhere.toml", cwd=tmp_path, env={"LANG": "es_MX.UTF-8"}
    )

    assert run.error == "tandem: config: no se encontró el archivo: nowhere.toml"


@pytest.mark.parametrize(
    ("variables", "language"),
    [
        ({"LANG": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.UTF-8"}, "zh_Hans"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_locale_names_the_operators_language(
    db_url: str, variables: dict[str, str], language: str
) -> None:
    tandem("status", "--config", "nowhere.toml")  # no settings: the locale decides

    assert operator_language(None, variables) == language


def test_every_operator_message_the_adapters_use_is_in_every_catalog() -> None:
    used = {
        key
        for path in ADAPTERS.glob("*.py")
        for key in re.findall(r'"(operator\.\w+)"', path.read_text(encoding="utf-8"))
    }

    assert len(used) > 20
    for language in languages():
        assert used - set(messages(language).texts) == set(), language


def test_a_roster_refusal_is_in_the_schools_language(oak: str, tmp_path: Path) -> None:
    run = tandem("student", "add", "+Sam", "--config", str(spanish_school(tmp_path)))

    assert run.error == "tandem: el nombre de un estudiante no puede empezar por '+'"


def test_an_email_setting_refused_is_named_in_the_schools_language(
    oak: str, tmp_path: Path
) -> None:
    config = spanish_school(tmp_path, '[email]\nreply_domain = "not a domain"\n')

    run = tandem("status", "--config", str(config))

    assert run.error == (
        "tandem: email.reply_domain: se esperaba un dominio de correo como 'school.org'"
    )


def test_an_email_invite_refused_is_in_the_schools_language(oak: str, tmp_path: Path) -> None:
    config = spanish_school(tmp_path, '[email]\nsmtp_host = "127.0.0.1"\n')

    run = tandem(
        "invite",
        "--role",
        "parent",
        "--student",
        "Sam",
        "--email",
        "dana at home",
        "--config",
        str(config),
    )

    assert run.error == (
        "tandem: --email: 'dana at home' no es una dirección de correo como dana@example.org"
    )


BAD_ROSTER = "student,adult,role\n,Lee Chen,parent\nMaya Chen,Lee Chen,boss\nIvy Lu,,parent\n"


def test_a_rosters_bad_rows_are_named_in_the_schools_language(oak: str, tmp_path: Path) -> None:
    bad = tmp_path / "roster.csv"
    bad.write_text(BAD_ROSTER, encoding="utf-8")
    students = tandem("status", "--json").json["students"]

    run = tandem("roster", "import", str(bad), "--json", "--config", str(spanish_school(tmp_path)))

    assert run.error == (
        "tandem: roster.csv: 3 fila(s) con errores, no se importó nada: "
        "línea 2: falta el nombre del estudiante; "
        "línea 3: role debe ser parent o teacher, no 'boss'; "
        "línea 4: un rol o contacto sin nombre de adulto"
    )
    assert tandem("status", "--json").json["students"] == students  # nothing imported


def test_a_rosters_header_is_refused_in_the_language_the_environment_sets(
    oak: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "roster.csv").write_text("student,phone\nSam,555\n", encoding="utf-8")
    monkeypatch.setenv("TANDEM_SCHOOL_LANGUAGE", "es")

    run = tandem("roster", "import", str(tmp_path / "roster.csv"))

    assert run.error == (
        "tandem: roster.csv: 1 fila(s) con errores, no se importó nada: línea 1: columna "
        "desconocida 'phone' (se esperaba student, adult, role, contact, email)"
    )


def test_what_a_required_setting_is_needed_for_is_in_the_schools_language(
    oak: str, tmp_path: Path
) -> None:
    config = spanish_school(tmp_path, "[telegram]\nenabled = true\n")

    run = tandem("status", "--config", str(config))

    assert run.error == (
        "tandem: telegram.token: obligatorio cuando telegram.enabled es true "
        "(o defina TANDEM_TELEGRAM_TOKEN)"
    )


def test_a_spanish_schools_export_says_where_the_record_went_in_spanish(
    oak: str, tmp_path: Path
) -> None:
    out = tmp_path / "sam.md"
    config = str(spanish_school(tmp_path))

    run = tandem(
        "export", "--student", "Sam", "--format", "md", "--out", str(out), "--config", config
    )

    assert run.stdout.strip() == f"Se exportó el expediente de Sam (0 entradas) a {out}."
    assert out.exists()


def test_a_spanish_schools_team_and_invite_lists_are_in_spanish(oak: str, tmp_path: Path) -> None:
    config = str(spanish_school(tmp_path))

    team = tandem("team", "list", "--student", "Sam", "--config", config)
    invites = tandem("invite", "list", "--config", config)

    assert team.stdout == "Todavía nadie.\n"
    assert invites.stdout.startswith("#1 admin para la escuela, hasta ")  # the admin's invite
