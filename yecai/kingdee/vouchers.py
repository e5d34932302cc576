"""GL_VOUCHER payloads: build the Save model of a planned voucher, with its key where it belongs.

Field keys follow Kingdee's GL_VOUCHER template (protocol reference §7.1–§7.2). Every line's 摘要
carries the key token (traceability on any tenant); with `key_field` set to `bill_no` or a custom
`F_…` field the key is also written there (see `yecai.kingdee.keys`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from yecai.domain.vouchers import Voucher
from yecai.kingdee.keys import BILL_NO, SUMMARY, field_key, key_value

FORM_ID = "GL_VOUCHER"


@dataclass(frozen=True, slots=True)
class VoucherTarget:
    account_book: str
    voucher_group: str
    currency: str = "PRE001"
    rate_type: str = "HLTX01_SYS"
    key_field: str = SUMMARY  # summary | bill_no | F_<ISV>_… (a tenant's custom field)


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
    model: dict[str, Any] = {
        "FAccountBookID": {"FNumber": target.account_book},
        "FDate": voucher.date.isoformat(),
        "FVOUCHERGROUPID": {"FNumber": target.voucher_group},
        "FATTACHMENTS": 0,
    }
    if target.key_field != SUMMARY:
        model[field_key(target.key_field)] = key_value(target.key_field, voucher.posting_key)
    model["FEntity"] = entries
    return model


__all__ = ["BILL_NO", "FORM_ID", "SUMMARY", "VoucherTarget", "voucher_model"]
