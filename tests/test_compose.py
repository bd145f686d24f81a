"""No Docker engine runs on these machines, so the compose file is checked against the code:
its services, ports, environment and commands must agree with the settings and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import typer.main
import yaml

from c2b.cli import app
from c2b.settings import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def cli_commands() -> set[tuple[str, ...]]:
    """Every command path of the c2b CLI, e.g. ('db', 'upgrade')."""
    found: set[tuple[str, ...]] = set()

    def walk(cmd: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        else:
            found.add(path)

    walk(typer.main.get_command(app), ())
    return found


def test_the_production_stack_has_every_part(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgresql",
        "temporal",
        "temporal-ui",
        "migrate",
        "api",
        "worker",
        "solver",
    }
    for name in ("postgresql", "temporal", "api"):
        assert "healthcheck" in compose["services"][name], name


def test_platform_services_use_only_settings_the_code_reads(compose: dict[str, Any]) -> None:
    aliases = {f.alias for f in Settings.model_fields.values()}
    for name in ("migrate", "api", "worker"):
        env = compose["services"][name]["environment"]
        assert set(env) <= aliases, set(env) - aliases
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@postgresql:5432/" in env["DATABASE_URL"]
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["C2B_ORCHESTRATION_TASK_QUEUE"] == Settings().orchestration_task_queue


def test_commands_are_real_cli_commands(compose: dict[str, Any]) -> None:
    commands = cli_commands()
    for name in ("migrate", "api", "worker"):
        argv = compose["services"][name]["command"]
        assert argv[0] == "c2b"
        words = tuple(w for w in argv[1:] if not w.startswith("--"))
        assert any(words[: len(c)] == c for c in commands), (name, argv)


def test_ports_match_the_defaults_and_workers_can_scale(compose: dict[str, Any]) -> None:
    services = compose["services"]
    defaults = Settings()
    assert services["api"]["ports"] == [f"{defaults.api_port}:8000"]
    assert "--port" in services["api"]["command"]
    assert services["temporal"]["ports"] == [f"{defaults.temporal_address.rsplit(':', 1)[1]}:7233"]
    assert services["temporal-ui"]["ports"] == [f"{defaults.temporal_ui_port}:8080"]
    # `--scale worker=N` needs no fixed name and no host port.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_image_installs_the_project_and_runs_the_cli() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "pip install -e ." in dockerfile
    assert 'CMD ["c2b", "api"' in dockerfile
    assert Path(PROJECT_ROOT / ".dockerignore").read_text().count(".venv") == 1
