"""GL_VOUCHER payloads: build the Save model from a planned voucher, and find vouchers by key.

Field keys follow Kingdee's GL_VOUCHER template (protocol reference §7.1–§7.2). The posting key
travels in every line's 摘要 (FEXPLANATION) as a token, which works on any tenant without a
custom field; `find_by_tokens` is how the exporter asks Kingdee whether an uncertain write landed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from yecai.domain.vouchers import Voucher
from yecai.kingdee.client import KingdeeClient

FORM_ID = "GL_VOUCHER"
TOKENS_PER_QUERY = 40  # keeps the OR'ed filter well below URL/WAF size limits


@dataclass(frozen=True, slots=True)
class VoucherTarget:
    account_book: str
    voucher_group: str
    currency: str = "PRE001"
    rate_type: str = "HLTX01_SYS"


def voucher_model(voucher: Voucher, target: VoucherTarget) -> dict[str, Any]:
    """The `Model` of a GL_VOUCHER Save/BatchSave package for one planned voucher."""
    entries = []
    for line in voucher.lines:
        entry: dict[str, Any] = {
            "FEXPLANATION": line.explanation,
            "FACCOUNTID": {"FNumber": line.account},
        }
        if line.dimensions:
            entry["FDetailID"] = {f"FDETAILID__{flex}": {"FNumber": value} for flex, value in line.dimensions}
        entry.update(
            {
                "FCURRENCYID": {"FNumber": target.currency},
                "FEXCHANGERATETYPE": {"FNumber": target.rate_type},
                "FEXCHANGERATE": Decimal(1),
                "FAMOUNTFOR": line.debit if line.debit else line.credit,
                "FDEBIT": line.debit,
                "FCREDIT": line.credit,
            }
        )
        entries.append(entry)
    return {
        "FAccountBookID": {"FNumber": target.account_book},
        "FDate": voucher.date.isoformat(),
        "FVOUCHERGROUPID": {"FNumber": target.voucher_group},
        "FATTACHMENTS": 0,
        "FEntity": entries,
    }


@dataclass(frozen=True, slots=True)
class FoundVoucher:
    id: str
    number: str
    debit_total: Decimal
    credit_total: Decimal


def find_by_tokens(client: KingdeeClient, tokens: Iterable[str]) -> dict[str, FoundVoucher]:
    """Vouchers whose 摘要 carries one of `tokens`, keyed by token (one query per 40 tokens)."""
    wanted = list(dict.fromkeys(tokens))
    found: dict[str, FoundVoucher] = {}
    fields = ["FVOUCHERID", "FBillNo", "FEXPLANATION", "FDEBITTOTAL", "FCREDITTOTAL"]
    for start in range(0, len(wanted), TOKENS_PER_QUERY):
        chunk = wanted[start : start + TOKENS_PER_QUERY]
        condition = " or ".join(f"FEXPLANATION like '%{token}%'" for token in chunk)
        for row in client.query_all(FORM_ID, fields, condition):
            explanation = str(row[2] or "")
            for token in chunk:
                if token in explanation and token not in found:
                    found[token] = FoundVoucher(str(row[0]), str(row[1]), Decimal(row[3]), Decimal(row[4]))
    return found
