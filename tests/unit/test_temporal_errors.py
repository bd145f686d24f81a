"""How the API answers when Temporal itself does not answer: 503, to be retried, and
never a 409 that tells a client to give up (c2b bench chaos found one during a restart)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.errors import update_errors


@pytest.mark.parametrize(
    "code",
    [
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.UNKNOWN,  # "transport error": the connection broke mid-call
    ],
)
def test_an_unreachable_temporal_is_a_503_to_retry(code: RPCStatusCode) -> None:
    with pytest.raises(HTTPException) as raised, update_errors("the batch is not taking picks"):
        raise RPCError("connection refused", code, b"")
    assert raised.value.status_code == 503
    assert raised.value.headers == {"Retry-After": "1"}
    assert "retry the same request" in str(raised.value.detail)


def test_a_workflow_that_is_gone_is_still_a_conflict() -> None:
    with pytest.raises(HTTPException) as raised, update_errors("the batch is not taking picks"):
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
    assert raised.value.status_code == 409
    assert "the batch is not taking picks" in str(raised.value.detail)
