"""The reference deployment in deploy/ holds together: the compose file is valid Compose, its
replicas start only after the schema upgrade and are checked on /healthz, and every metric
the alerts watch is one Tandem serves.

`docker compose config` checks the compose file where docker is installed; everywhere (CI has
no docker) it is checked against the Compose specification's JSON schema, as shipped by the
check-jsonschema package (a test dependency).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema.validators import validator_for
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adapters.metrics_prometheus import PrometheusMetrics
from bot.metrics import EventOutcome, JobOutcome

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor")
    loaded: dict[str, Any] = json.loads(vendored.joinpath("compose-spec.json").read_text())
    return loaded


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


def test_the_compose_file_is_valid_compose() -> None:
    assert schema_errors(compose()) == []
    if docker_compose_works():
        environment = {"POSTGRES_PASSWORD": "x", "TANDEM_HOST": "tandem.example.org"}
        checked = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
            capture_output=True,
            text=True,
            env=environment,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr


def test_a_broken_compose_file_is_caught_by_the_check() -> None:
    broken = compose()
    broken["services"]["tandem"]["restart_policy"] = "always"  # a key Compose does not know
    broken["services"]["tandem"]["depends_on"]["migrate"]["condition"] = "finished"

    errors = schema_errors(broken)

    assert len(errors) == 2
    assert any("restart_policy" in error for error in errors)


def test_replicas_start_after_the_upgrade_and_are_checked_on_healthz() -> None:
    services = compose()["services"]
    replicas = services["tandem"]

    assert services["migrate"]["command"][:3] == ["tandem", "db", "upgrade"]
    assert replicas["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert replicas["command"][:2] == ["tandem", "run"]
    assert replicas["deploy"]["replicas"] >= 2
    assert "/healthz" in " ".join(replicas["healthcheck"]["test"])
    assert "ports" not in replicas  # only the proxy faces the internet


def served_metric_names() -> set[str]:
    """Every sample name /metrics shows once each kind of thing has happened."""
    metrics = PrometheusMetrics()
    metrics.event_handled("message", EventOutcome.REPLIED, 0.01)
    metrics.duplicate_event("telegram")
    metrics.letter_sent("telegram")
    metrics.letter_retried("telegram")
    metrics.letter_dead("telegram")
    metrics.rate_limited("telegram")
    metrics.job_ran("summary", JobOutcome.DONE)
    metrics.outbox.labels("pending").set(0)
    metrics.oldest_due.set(0)
    text = generate_latest(metrics.registry).decode()
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


def test_every_metric_an_alert_watches_is_served() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yaml").read_text(encoding="utf-8"))
    watched = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\btandem_[a-z_]+", rule["expr"])
    }

    assert watched
    assert watched <= served_metric_names()
