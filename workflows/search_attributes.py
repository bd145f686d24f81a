"""Search attributes of production orders, so the Temporal UI (and ``temporal workflow
list --query``) can find an order by id, style, buyer team or status, e.g.
``C2bStyle = "TS-CREW" AND C2bOrderStatus = "awaiting_fabric"``.

The worker registers them on its namespace when it starts (c2b/worker.py)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_ID = SearchAttributeKey.for_int("C2bOrderId")
STYLE = SearchAttributeKey.for_keyword("C2bStyle")
BUYER_TEAM = SearchAttributeKey.for_keyword("C2bBuyerTeam")
ORDER_STATUS = SearchAttributeKey.for_keyword("C2bOrderStatus")

ALL = (ORDER_ID, STYLE, BUYER_TEAM, ORDER_STATUS)
