"""Reconciler (first cut): compare what yecai posted with what Kingdee holds, voucher by voucher.

Reads every voucher that carries a yecai key token back from Kingdee with ExecuteBillQuery and
checks each posted posting appears exactly once with the same totals: anything missing,
duplicated, different in amount or unknown to yecai is listed. The full source ↔ yecai ↔ Kingdee
reconciliation by project × account × period builds on this.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from yecai.domain.money import ZERO
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.vouchers import FORM_ID
from yecai.store.db import Store
from yecai.store.tables import Posting

TOKEN = re.compile(r"#YC:([0-9a-f]{20})")


@dataclass(slots=True)
class KingdeeVoucher:
    id: str
    number: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    keys: set[str] = field(default_factory=set)


@dataclass(slots=True)
class PostingCheck:
    vouchers: int = 0  # yecai vouchers found in Kingdee
    debit_total: Decimal = ZERO
    credit_total: Decimal = ZERO
    posted: int = 0  # postings yecai holds as posted
    missing: list[str] = field(default_factory=list)  # posted in yecai, absent in Kingdee
    duplicated: list[str] = field(default_factory=list)  # key found in more than one voucher
    amount_mismatch: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # Kingdee vouchers with a key yecai lacks

    @property
    def clean(self) -> bool:
        return not (self.missing or self.duplicated or self.amount_mismatch or self.unknown)


def read_yecai_vouchers(client: KingdeeClient) -> dict[str, KingdeeVoucher]:
    """Kingdee voucher id → voucher, for every voucher whose lines carry a yecai key token."""
    fields = ["FVOUCHERID", "FBillNo", "FDEBIT", "FCREDIT", "FEXPLANATION"]
    vouchers: dict[str, KingdeeVoucher] = {}
    for row in client.query_all(FORM_ID, fields, "FEXPLANATION like '%#YC:%'", order="FVOUCHERID"):
        voucher_id = str(row[0])
        voucher = vouchers.setdefault(voucher_id, KingdeeVoucher(voucher_id, str(row[1])))
        voucher.debit += Decimal(row[2] or 0)
        voucher.credit += Decimal(row[3] or 0)
        voucher.keys.update(TOKEN.findall(str(row[4] or "")))
    return vouchers


def check_postings(store: Store, client: KingdeeClient, *, kingdee_connection: str) -> PostingCheck:
    check = PostingCheck()
    vouchers = read_yecai_vouchers(client)
    by_key: dict[str, list[KingdeeVoucher]] = defaultdict(list)
    for voucher in vouchers.values():
        check.vouchers += 1
        check.debit_total += voucher.debit
        check.credit_total += voucher.credit
        for key in voucher.keys:
            by_key[key].append(voucher)
    with store.transaction() as session:
        postings = {
            p.posting_key: p
            for p in session.scalars(select(Posting).where(Posting.connection == kingdee_connection))
        }
    for key, posting in postings.items():
        found = by_key.get(key, [])
        if posting.state != "posted":
            if found:
                check.unknown.append(f"{key} ({posting.state} in yecai, present in Kingdee)")
            continue
        check.posted += 1
        if not found:
            check.missing.append(key)
        elif len(found) > 1:
            check.duplicated.append(f"{key} × {len(found)}: " + ", ".join(v.number for v in found))
        elif found[0].debit != posting.debit_total or found[0].credit != posting.credit_total:
            check.amount_mismatch.append(
                f"{key}: yecai {posting.debit_total}/{posting.credit_total}, Kingdee {found[0].debit}/{found[0].credit}"
            )
    for key in sorted(set(by_key) - set(postings)):
        check.unknown.append(f"{key} (not in yecai)")
    return check
