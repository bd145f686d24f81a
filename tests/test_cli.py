from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from typer.testing import CliRunner

from c2b.cli import app
from c2b.settings import get_settings
from models.rules import hash_token
from models.tables import ApiToken, Factory


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, db_url: str, session: Session) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_help_lists_the_commands() -> None:
    out = CliRunner().invoke(app, ["--help"]).output
    for command in ("worker", "api", "db", "seed", "token", "dev"):
        assert command in out


def test_a_token_is_printed_once_and_stored_hashed(
    cli_env: CliRunner, engine: sa.Engine, factory_ids: dict[str, int]
) -> None:
    result = cli_env.invoke(
        app, ["token", "create", "--role", "factory", "--scope", str(factory_ids["GZ-KNIT"])]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("c2b_")
    with Session(engine) as s:
        stored = s.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).one()
        assert stored.role == "factory" and stored.scope_id == factory_ids["GZ-KNIT"]
        assert token not in {t.token_hash for t in s.exec(select(ApiToken)).all()}


def test_a_token_is_rotated_by_creating_a_new_one_and_revoking_the_old(
    cli_env: CliRunner, engine: sa.Engine
) -> None:
    old = cli_env.invoke(app, ["token", "create", "--role", "planner", "--name", "ops-old"])
    new = cli_env.invoke(app, ["token", "create", "--role", "planner", "--name", "ops-new"])
    assert old.exit_code == new.exit_code == 0
    with Session(engine) as s:
        old_id = s.exec(select(ApiToken).where(ApiToken.name == "ops-old")).one().id
    listed = cli_env.invoke(app, ["token", "list"], env={"COLUMNS": "200"})
    assert "ops-old" in listed.output and "ops-new" in listed.output
    revoked = cli_env.invoke(app, ["token", "revoke", str(old_id)])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked token {old_id} (ops-old, planner)" in revoked.output
    after = cli_env.invoke(app, ["token", "list"], env={"COLUMNS": "200"}).output
    assert "ops-old" not in after and "ops-new" in after
    assert (
        "ops-old" in cli_env.invoke(app, ["token", "list", "--all"], env={"COLUMNS": "200"}).output
    )
    with Session(engine) as s:
        assert s.exec(select(ApiToken).where(ApiToken.name == "ops-old")).one().revoked_at
    missing = cli_env.invoke(app, ["token", "revoke", "999999"])
    assert missing.exit_code == 2 and "no token with id 999999" in missing.output


def test_a_factory_token_without_a_real_factory_is_refused(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["token", "create", "--role", "factory", "--scope", "999999"])
    assert result.exit_code == 2
    assert "existing factory id" in result.output


def test_an_unknown_role_is_refused_by_name(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["token", "create", "--role", "wizard"])
    assert result.exit_code == 2
    assert "wizard" in result.output


def test_seeding_twice_changes_nothing(cli_env: CliRunner, engine: sa.Engine) -> None:
    result = cli_env.invoke(app, ["seed"])
    assert result.exit_code == 0 and "already present" in result.output
    with Session(engine) as s:
        assert len(s.exec(select(Factory)).all()) == 3


INSTANCES = Path(__file__).resolve().parents[1] / "bench" / "instances"


def test_solve_prints_makespan_bound_status_and_time_as_json() -> None:
    run = CliRunner().invoke(
        app, ["solve", str(INSTANCES / "jssp" / "ft06.txt"), "--format", "jssp", "--json"]
    )
    assert run.exit_code == 0, run.output
    result = json.loads(run.output)
    assert result["makespan"] == 55 and result["lower_bound"] == 55  # ft06's optimum
    assert result["status"] == "optimal" and result["seconds"] < 30


def test_solve_names_the_file_it_cannot_read(tmp_path: Path) -> None:
    broken = tmp_path / "broken.fjs"
    broken.write_text("2 2 1\n1 1 1 5\n")
    run = CliRunner().invoke(app, ["solve", str(broken), "--format", "fjsp"])
    assert run.exit_code == 2
    assert "broken.fjs: ends in the middle of job 1" in " ".join(run.output.split())


def test_tokens_are_printed_whole_even_on_a_narrow_terminal() -> None:
    from rich.console import Console

    from c2b.cli import print_tokens
    from c2b.tokens import IssuedToken
    from models.schemas import Role

    token = "c2b_" + "x" * 43
    out = Console(width=40, record=True)
    print_tokens(
        out, [IssuedToken(name="demo:team-nova", role=Role.BUYER, scope_id=1, token=token)]
    )
    lines = out.export_text().splitlines()
    assert any(line.endswith(token) and line.startswith("demo:team-nova") for line in lines)
