"""Where a posting key lives in Kingdee, and how to find documents by it after an unknown outcome.

Three places, by tenant (the rule set's `key_field`): the 摘要 token `#YC:<key>` on every voucher
line (`summary`: works everywhere, no uniqueness), the bill number `FBillNo` (`bill_no`: Kingdee
refuses a second document with it — the only guard that also defeats a write that commits *after*
the caller gave up), or a custom field `F_<ISV>_…` a tenant adds. Only `summary` puts the token in
the 摘要; with the other two the 摘要 is human text and every lookup goes by the key field. The
key's value is deterministic, so the same posting always looks for, and writes, the same value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from yecai.domain.bills import bill_number
from yecai.kingdee.client import KingdeeClient

SUMMARY = "summary"
BILL_NO = "bill_no"
# Filters travel in the POST body, but a WAF in front of Kingdee may cap it and every LIKE term is
# a scan: 40 OR'ed LIKEs per query, 200 values in an IN list (about 5 KB).
LIKES_PER_QUERY = 40
VALUES_PER_QUERY = 200


def chunk_size(key_field: str) -> int:
    return LIKES_PER_QUERY if key_field == SUMMARY else VALUES_PER_QUERY


VOUCHER_PREFIX = "YC"


def key_token(posting_key: str) -> str:
    """The 摘要 marker: no LIKE wildcards ('[', '_', '%') and no '<' that some WAFs block."""
    return f"#YC:{posting_key}"


def key_value(key_field: str, posting_key: str, prefix: str = VOUCHER_PREFIX) -> str:
    """The value a posting writes into its key field."""
    if key_field == SUMMARY:
        return key_token(posting_key)
    if key_field == BILL_NO:
        return bill_number(prefix, posting_key)
    return posting_key


def present(key_field: str) -> str:
    """A filter for the vouchers whose key field holds a yecai key (any key, not one in particular)."""
    if key_field == SUMMARY:
        return f"FEXPLANATION like '%{key_token('')}%'"
    if key_field == BILL_NO:
        return f"FBillNo like '{VOUCHER_PREFIX}%'"
    return f"{key_field} <> ''"


def field_key(key_field: str) -> str:
    """The Kingdee field key searched for a key field."""
    return {SUMMARY: "FEXPLANATION", BILL_NO: "FBillNo"}.get(key_field, key_field)


@dataclass(frozen=True, slots=True)
class Found:
    id: str
    number: str
    status: str | None
    debit: Decimal  # voucher debit total, or a bill's amount when known
    credit: Decimal


def find_by_keys(
    client: KingdeeClient,
    form_id: str,
    key_field: str,
    values: Iterable[str],
    *,
    pk: str = "FVOUCHERID",
    amount_fields: tuple[str, str] = ("FDEBITTOTAL", "FCREDITTOTAL"),
) -> dict[str, Found]:
    """Documents of `form_id` carrying each key value, keyed by value (40 or 200 values a query)."""
    wanted = list(dict.fromkeys(values))
    found: dict[str, Found] = {}
    key = field_key(key_field)
    fields = [pk, "FBillNo", key, "FDocumentStatus", *amount_fields]
    size = chunk_size(key_field)
    for start in range(0, len(wanted), size):
        chunk = wanted[start : start + size]
        if key_field == SUMMARY:
            condition = " or ".join(f"{key} like '%{value}%'" for value in chunk)
        else:
            condition = f"{key} in ({','.join(repr_sql(v) for v in chunk)})"
        for row in client.query_all(form_id, fields, condition):
            text = str(row[2] or "")
            for value in chunk:
                hit = value in text if key_field == SUMMARY else value == text
                if hit and value not in found:
                    debit = Decimal(row[4] or 0) if len(row) > 4 else Decimal(0)
                    credit = Decimal(row[5] or 0) if len(row) > 5 else debit
                    found[value] = Found(str(row[0]), str(row[1]), row[3], debit, credit)
    return found


def repr_sql(value: str) -> str:
    """A single-quoted filter literal (quotes doubled; keys are hex or codes, but be safe)."""
    return "'" + value.replace("'", "''") + "'"
