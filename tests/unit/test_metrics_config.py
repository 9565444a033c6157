"""The [metrics] section: off by default, loopback when on, anything else only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app
from adapters.platforms import defaults, load_settings
from bot.config import ConfigError
from bot.metrics import MetricsConfig


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> MetricsConfig:
    path = tmp_path / "tandem.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ or {}).metrics


def test_metrics_are_not_served_by_default() -> None:
    assert defaults().metrics.listen is None


def test_an_empty_listen_serves_nothing(tmp_path: Path) -> None:
    assert load(tmp_path, '[metrics]\nlisten = ""\n') == defaults().metrics


@pytest.mark.parametrize("listen", ["127.0.0.1:9464", "[::1]:9464", "localhost:9464"])
def test_a_loopback_address_is_served(tmp_path: Path, listen: str) -> None:
    config = load(tmp_path, f'[metrics]\nlisten = "{listen}"\n')

    assert config.listen == (listen.rsplit(":", 1)[0].strip("[]"), 9464)


@pytest.mark.parametrize("listen", ["0.0.0.0:9464", "[::]:9464", "10.0.0.5:9464", "tandem:9464"])
def test_an_address_off_the_loopback_is_refused_unless_allowed(tmp_path: Path, listen: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, f'[metrics]\nlisten = "{listen}"\n')

    assert refused.value.key == "metrics.listen"
    assert "allow_remote" in str(refused.value)
    allowed = load(tmp_path, f'[metrics]\nlisten = "{listen}"\nallow_remote = true\n')
    assert allowed.listen == (listen.rsplit(":", 1)[0].strip("[]"), 9464)


def test_the_environment_sets_the_address(tmp_path: Path) -> None:
    config = load(tmp_path, "", {"TANDEM_METRICS_LISTEN": "127.0.0.1:9100"})

    assert config.listen == ("127.0.0.1", 9100)


def test_tandem_run_refuses_a_public_metrics_address_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "tandem.toml"
    path.write_text(
        '[telegram]\nenabled = true\ntoken = "123:abc"\n[metrics]\nlisten = "0.0.0.0:9464"\n',
        encoding="utf-8",
    )

    result = CliRunner().invoke(app, ["run", "--config", str(path)])

    assert result.exit_code == 2
    assert "metrics.listen" in result.stderr
    assert "allow_remote" in result.stderr
