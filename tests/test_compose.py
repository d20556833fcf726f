"""docker-compose.yml checked structurally (no Docker engine runs here): every service is built or
pulled, starts in order on health, keeps its state in volumes, and is configured only through
the settings the code reads, with no secret written in the file."""

from __future__ import annotations

import re
from typing import Any

import yaml

from settings import ROOT, Settings

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|KEYS|PWD")


def settings_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add((field.alias or name).upper())
    return names


def test_every_service_is_an_image_or_our_build() -> None:
    assert {"postgres", "temporal-admin-tools", "temporal", "temporal-ui", "worker", "web", "mailpit"} <= set(SERVICES)
    for name, service in SERVICES.items():
        assert "image" in service or service.get("build") == ".", name
    assert (ROOT / "Dockerfile").exists()


def test_app_services_use_only_settings_the_code_reads() -> None:
    known = settings_env_names()
    for name in ("worker", "web"):
        environment = SERVICES[name]["environment"]
        assert set(environment) <= known, set(environment) - known
        assert {"TEMPORAL_ADDRESS", "DATABASE_URL", "SMTP_HOST", "LINK_KEYS", "PAYLOAD_KEYS"} <= set(environment)


def test_start_order_follows_health() -> None:
    for name in ("postgres", "temporal", "web", "worker", "mailpit"):
        assert "healthcheck" in SERVICES[name], name
    assert SERVICES["temporal"]["depends_on"]["temporal-admin-tools"]["condition"] == "service_completed_successfully"
    assert SERVICES["temporal-admin-tools"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "web"):
        assert SERVICES[name]["depends_on"]["temporal"]["condition"] == "service_healthy"
        assert SERVICES[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_state_lives_in_volumes_and_ports_are_published() -> None:
    assert any(v.startswith("pgdata:") for v in SERVICES["postgres"]["volumes"])
    assert set(COMPOSE["volumes"]) >= {"pgdata", "appdata"}
    assert "7233:7233" in SERVICES["temporal"]["ports"] and "8000:8000" in SERVICES["web"]["ports"]
    assert "8233:8080" in SERVICES["temporal-ui"]["ports"]
    assert "scale" not in SERVICES["worker"] and "container_name" not in SERVICES["worker"]  # scalable


def test_no_secret_is_written_in_the_file_and_env_example_names_every_variable() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    referenced = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert referenced <= example, referenced - example
    for service in SERVICES.values():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAMES.search(key) and value:
                assert str(value).startswith("${"), f"{key} must come from .env"


def test_the_app_services_are_checked_by_readiness_and_restarted() -> None:
    """Issue #20: the orchestrator reads each app process's readiness, and brings a stopped one back."""
    for name, port in (("web", 8000), ("worker", 8081)):
        service = SERVICES[name]
        assert f"localhost:{port}/readyz" in " ".join(service["healthcheck"]["test"]), name
        assert service["restart"] == "unless-stopped", name
