"""Issuing bearer tokens. Only the hash is stored; the token is shown once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from models.errors import InvalidInput
from models.rules import hash_token
from models.schemas import Role
from models.tables import ApiToken, BuyerTeam, Factory

DEMO_PREFIX = "demo:"


@dataclass(frozen=True)
class IssuedToken:
    name: str
    role: Role
    scope_id: int | None
    token: str


def create_token(session: Session, role: Role, scope_id: int | None, name: str) -> IssuedToken:
    """A new token for a principal. Buyers need a team scope, factories a factory scope."""
    if role == Role.BUYER and (scope_id is None or session.get(BuyerTeam, scope_id) is None):
        raise InvalidInput("a buyer token needs --scope with an existing team id", field="scope")
    if role == Role.FACTORY and (scope_id is None or session.get(Factory, scope_id) is None):
        raise InvalidInput(
            "a factory token needs --scope with an existing factory id", field="scope"
        )
    token = "c2b_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_token(token), name=name, role=role, scope_id=scope_id))
    session.commit()
    return IssuedToken(name=name, role=role, scope_id=scope_id, token=token)


def issue_demo_tokens(session: Session) -> list[IssuedToken]:
    """Fresh tokens for every demo principal; the previous demo tokens are revoked (their
    plain text was never stored, so they could not be shown again anyway)."""
    now = datetime.now(UTC)
    for old in session.exec(
        select(ApiToken).where(
            col(ApiToken.name).startswith(DEMO_PREFIX), col(ApiToken.revoked_at).is_(None)
        )
    ).all():
        old.revoked_at = now
    session.commit()
    issued = [
        create_token(session, Role.BUYER, team.id, f"{DEMO_PREFIX}{team.code}")
        for team in session.exec(select(BuyerTeam).order_by(col(BuyerTeam.id))).all()
    ]
    issued += [
        create_token(session, Role.FACTORY, f.id, f"{DEMO_PREFIX}{f.code}")
        for f in session.exec(select(Factory).order_by(col(Factory.id))).all()
    ]
    for role in (Role.PLANNER, Role.DESIGNER, Role.ADMIN):
        issued.append(create_token(session, role, None, f"{DEMO_PREFIX}{role.value}"))
    return issued


def list_tokens(session: Session, include_revoked: bool = False) -> list[ApiToken]:
    """The tokens, oldest first (their hashes only: the tokens themselves are not kept)."""
    query = select(ApiToken).order_by(col(ApiToken.id))
    if not include_revoked:
        query = query.where(col(ApiToken.revoked_at).is_(None))
    return list(session.exec(query).all())


def revoke_token(session: Session, token_id: int) -> ApiToken:
    """Revoke one token by its id; API processes stop accepting it within their principal
    cache's lifetime (5 s). Revoking a revoked token changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise InvalidInput(f"no token with id {token_id}", field="id")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        session.commit()
    return token
