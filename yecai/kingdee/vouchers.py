"""GL_VOUCHER payloads and numbers: the Save model of a planned voucher, and its 凭证字号.

Field keys follow Kingdee's GL_VOUCHER template (WebAPI §7.1–§7.2). The key goes where
the rule set's `key_field` says (see `yecai.kingdee.keys`): with `summary` every line's 摘要 carries
the token `#YC:<key>`; with `bill_no` or a custom `F_…` field the key lives there and the 摘要 is
left to people. An accountant finds a voucher by 期间 + 凭证字号 (记-0012: FVOUCHERGROUPID +
FVOUCHERGROUPNO, numbered by Kingdee per book × period × 凭证字), not by its FBillNo, so that is
the number yecai reads back after a save and shows (`voucher_numbers`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from yecai.domain.vouchers import Voucher
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.keys import BILL_NO, SUMMARY, VALUES_PER_QUERY, field_key, key_token, key_value

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
    token = key_token(voucher.posting_key)
    for line in voucher.lines:
        explanation = line.explanation
        if target.key_field != SUMMARY:
            # the key lives in FBillNo or a custom field: the 摘要 stays human text
            explanation = " ".join(explanation.replace(token, " ").split())
        entry: dict[str, Any] = {
            "FEXPLANATION": explanation,
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


# What makes a 凭证字号 readable: the word (记/收/付/转), its number, and the period it runs in.
NUMBER_FIELDS = ("FVOUCHERID", "FVOUCHERGROUPID.FName", "FVOUCHERGROUPNO", "FYEAR", "FPERIOD")


def voucher_label(year: int, period: int, word: str, number: str | int) -> str:
    """期间 + 凭证字号 as an accountant writes it: `2026-10 记-0012` (凭证号 restarts each period)."""
    text = str(number).strip()
    shown = f"{int(text):04d}" if text.isdigit() else text
    return f"{int(year):04d}-{int(period):02d} {word}-{shown}"


def voucher_numbers(client: KingdeeClient, ids: Iterable[str | int]) -> dict[str, str]:
    """Kingdee voucher id → `2026-10 记-0012`, read with ExecuteBillQuery (200 ids a query).

    Vouchers not (or no longer) in Kingdee, and drafts without a 凭证号, are left out.
    """
    wanted = list(dict.fromkeys(str(i) for i in ids if str(i).strip().isdigit()))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), VALUES_PER_QUERY):
        chunk = wanted[start : start + VALUES_PER_QUERY]
        condition = f"FVOUCHERID in ({','.join(chunk)})"
        # one row per entry on some tenants: the header values repeat, the first row is enough
        for voucher_id, word, number, year, period in client.query_all(
            FORM_ID, list(NUMBER_FIELDS), condition
        ):
            if str(voucher_id) in found or not str(number or "").strip() or not year:
                continue
            found[str(voucher_id)] = voucher_label(year, period, str(word or ""), number)
    return found


__all__ = [
    "BILL_NO",
    "FORM_ID",
    "SUMMARY",
    "VoucherTarget",
    "voucher_label",
    "voucher_model",
    "voucher_numbers",
]
