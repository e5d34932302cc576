"""Bills as yecai plans them: a Kingdee form, a deterministic bill number, header and entries.

Bills (付款申请单, 应付单, 付款单 …) carry their posting key where Kingdee keeps it: a deterministic
`FBillNo` derived from the key, which Kingdee itself refuses to save twice — the strongest
exactly-once guard available through the WebAPI (§8 of the WebAPI facts, docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def bill_number(prefix: str, posting_key: str) -> str:
    """A deterministic FBillNo from a posting key: Kingdee refuses a second document with it."""
    return f"{prefix}{posting_key[:16].upper()}"


@dataclass(frozen=True, slots=True)
class Bill:
    """A planned bill: `header` and `entries` use Kingdee field keys; refs as {"FNumber": …}."""

    form_id: str
    posting_key: str
    group_key: str
    bill_no: str
    date: dt.date
    amount: Decimal  # the bill's total (for reconciliation and the posting row)
    header: Mapping[str, Any]
    entries: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    document_ids: tuple[int, ...] = ()
    summary: str = ""

    def model(self) -> dict[str, Any]:
        """The Save `Model`: header fields, the bill number, and the entry entities."""
        model: dict[str, Any] = {"FBillNo": self.bill_no, **self.header}
        for entity, rows in self.entries.items():
            model[entity] = [dict(row) for row in rows]
        return model
