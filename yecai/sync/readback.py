"""Read-back: compare what yecai posted with what Kingdee holds, voucher by voucher.

The full check reads every voucher that carries a yecai key back from Kingdee with
ExecuteBillQuery — by the 摘要 token, and by the key field (FBillNo `YC…` or a custom `F_…` field)
where the rule sets keep the key there and the 摘要 carries none — and checks each posted posting
appears exactly once with the same totals:
anything missing, duplicated, different in amount or unknown to yecai is listed. A nightly run
checks only the postings it touched (`since`), looked up by their keys — so its cost follows the
night's work, not the books' whole history. The source ↔ yecai ↔ Kingdee reconciliation by
project × account × period is `yecai.reconcile`; this is the pipeline's own last step.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import defer

from yecai.domain.money import ZERO
from yecai.domain.posting_states import PostingState
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.keys import (
    BILL_NO,
    SUMMARY,
    Found,
    chunk_size,
    field_key,
    find_by_keys,
    key_value,
    present,
    repr_sql,
)
from yecai.kingdee.vouchers import FORM_ID, NUMBER_FIELDS, voucher_label
from yecai.store.db import Store
from yecai.store.tables import Posting

TOKEN = re.compile(r"#YC:([0-9a-f]{20})")
# In Kingdee with yecai's blessing: saved (steps may be due) or posted.
_LIVE = (PostingState.POSTED, PostingState.SAVED)


@dataclass(slots=True)
class KingdeeVoucher:
    id: str
    number: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    keys: set[str] = field(default_factory=set)
    label: str | None = None  # 凭证字号 (`2026-10 记-0012`) when the read asked for it


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


BILL_KEY = re.compile(r"YC[0-9A-F]{16}")  # yecai's own FBillNo of a voucher (`bill_number`)


def read_yecai_vouchers(
    client: KingdeeClient, postings: Iterable[Posting] = (), key_fields: Iterable[str] = (BILL_NO,)
) -> dict[str, KingdeeVoucher]:
    """Kingdee voucher id → voucher, for every voucher that carries a yecai key.

    Vouchers with the 摘要 token are read line by line (their totals summed); vouchers keyed by
    FBillNo or a custom field — the key fields in `key_fields` and those of `postings` — by their
    header. A key value one of `postings` wrote maps to its posting key; any other (a yecai
    number yecai does not know) stands for itself, so it shows as unknown, never as nothing.
    """
    fields = ["FVOUCHERID", "FBillNo", "FDEBIT", "FCREDIT", "FEXPLANATION"]
    vouchers: dict[str, KingdeeVoucher] = {}
    for row in client.query_all(FORM_ID, fields, present(SUMMARY), order="FVOUCHERID"):
        voucher_id = str(row[0])
        voucher = vouchers.setdefault(voucher_id, KingdeeVoucher(voucher_id, str(row[1])))
        voucher.debit += Decimal(row[2] or 0)
        voucher.credit += Decimal(row[3] or 0)
        voucher.keys.update(TOKEN.findall(str(row[4] or "")))
    owners: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for posting in postings:
        if posting.key_field != SUMMARY and posting.kingdee_key:
            owners[posting.key_field][posting.kingdee_key].append(posting.posting_key)
    for key_field in dict.fromkeys([*key_fields, *owners]):
        if key_field == SUMMARY:
            continue
        key = field_key(key_field)
        header = ["FVOUCHERID", "FBillNo", key, "FDEBITTOTAL", "FCREDITTOTAL"]
        for row in client.query_all(FORM_ID, header, present(key_field), order="FVOUCHERID"):
            value = str(row[2] or "").strip()
            if not value or (key_field == BILL_NO and not BILL_KEY.fullmatch(value)):
                continue
            voucher_id = str(row[0])
            keys = owners[key_field].get(value) or [value]
            if voucher_id in vouchers:
                vouchers[voucher_id].keys.update(keys)  # also read by its token: totals counted once
                continue
            voucher = KingdeeVoucher(voucher_id, str(row[1]), Decimal(row[3] or 0), Decimal(row[4] or 0))
            voucher.keys.update(keys)
            vouchers[voucher_id] = voucher
    return vouchers


def _bills_in_kingdee(client: KingdeeClient, postings: list[Posting]) -> dict[tuple[str, str], Found]:
    """(form, FBillNo) → the bill Kingdee holds, for every bill yecai posted."""
    found: dict[tuple[str, str], Found] = {}
    by_form: dict[str, list[str]] = defaultdict(list)
    for posting in postings:
        if posting.kingdee_key:
            by_form[posting.form_id].append(posting.kingdee_key)
    for form_id, numbers in by_form.items():
        for number, hit in find_by_keys(
            client, form_id, BILL_NO, numbers, pk="FID", amount_fields=()
        ).items():
            found[(form_id, number)] = hit
    return found


def _check_bill(check: PostingCheck, posting: Posting, bills: dict[tuple[str, str], Found]) -> None:
    present = (posting.form_id, posting.kingdee_key or "") in bills
    if posting.state in _LIVE:
        check.posted += 1
        if not present:
            check.missing.append(posting.posting_key)
    elif present and posting.state not in (PostingState.SUPERSEDED, PostingState.DELETED):
        check.unknown.append(f"{posting.posting_key} ({posting.state} in yecai, present in Kingdee)")


@dataclass(frozen=True, slots=True)
class KeyRef:
    """What a read-back needs of one posting: where its key lives, the value there, and its key."""

    key_field: str
    value: str
    posting_key: str


def key_ref(posting: Posting) -> KeyRef:
    value = posting.kingdee_key or key_value(posting.key_field, posting.posting_key)
    return KeyRef(posting.key_field, value, posting.posting_key)


@dataclass(slots=True)
class ReadBack:
    """Vouchers already read back by key while the run was sending, and the posting keys covered.

    The sender reads each saved batch back at once, in the slots the saves share, so the check at
    the end of the run asks Kingdee only about the postings not covered here (found after an
    unknown outcome, or whose read-back failed).
    """

    vouchers: dict[str, KingdeeVoucher] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)

    def add(self, keys: Iterable[str], vouchers: dict[str, KingdeeVoucher]) -> None:
        self.keys.update(keys)
        _merge(self.vouchers, vouchers)


def _merge(into: dict[str, KingdeeVoucher], more: dict[str, KingdeeVoucher]) -> None:
    """Add vouchers read by another query: one read per voucher, the posting keys of both."""
    for voucher_id, voucher in more.items():
        known = into.get(voucher_id)
        if known is None:
            into[voucher_id] = voucher
        else:
            known.keys.update(voucher.keys)


def _label(row: list[object] | tuple[object, ...], start: int) -> str | None:
    """`2026-10 记-0012` from the number fields read after the key fields, if Kingdee gave one."""
    word, number, year, period = row[start : start + 4]
    if not str(number or "").strip() or not year:
        return None
    return voucher_label(int(str(year)), int(str(period)), str(word or ""), str(number))


def read_back(client: KingdeeClient, refs: Iterable[KeyRef]) -> dict[str, KingdeeVoucher]:
    """Kingdee voucher id → voucher, for the vouchers carrying these keys (with their 凭证字号).

    摘要 tokens are matched on entry rows (a voucher's totals are summed from its lines); a key in
    FBillNo or a custom header field is matched on header rows with the voucher's own totals.
    """
    vouchers: dict[str, KingdeeVoucher] = {}
    # key field → value → posting keys: an update rewrites its original's document in place, so
    # both carry the same FBillNo (the original is then superseded and not expected on its own).
    by_field: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for ref in refs:
        by_field[ref.key_field][ref.value].append(ref.posting_key)
    numbers = list(NUMBER_FIELDS[1:])  # read in the same query: no second round trip for them
    for key_field, values in by_field.items():
        wanted = list(values)
        size = chunk_size(key_field)
        for start in range(0, len(wanted), size):
            chunk = wanted[start : start + size]
            if key_field == SUMMARY:
                condition = " or ".join(f"FEXPLANATION like '%{value}%'" for value in chunk)
                fields = ["FVOUCHERID", "FBillNo", "FDEBIT", "FCREDIT", "FEXPLANATION", *numbers]
                lines: dict[str, KingdeeVoucher] = {}
                for row in client.query_all(FORM_ID, fields, condition):
                    voucher = lines.setdefault(str(row[0]), KingdeeVoucher(str(row[0]), str(row[1])))
                    voucher.debit += Decimal(row[2] or 0)
                    voucher.credit += Decimal(row[3] or 0)
                    voucher.keys.update(TOKEN.findall(str(row[4] or "")))
                    voucher.label = voucher.label or _label(row, 5)
                # Lines of one voucher may span queries; the first complete read of it wins.
                for voucher_id, voucher in lines.items():
                    vouchers.setdefault(voucher_id, voucher)
                continue
            key = field_key(key_field)
            condition = f"{key} in ({','.join(repr_sql(v) for v in chunk)})"
            fields = ["FVOUCHERID", "FBillNo", key, "FDEBITTOTAL", "FCREDITTOTAL", *numbers]
            for row in client.query_all(FORM_ID, fields, condition):
                if str(row[0]) in vouchers or str(row[2]) not in values:
                    continue  # one row per entry on some tenants: the header totals count once
                voucher = KingdeeVoucher(str(row[0]), str(row[1]), Decimal(row[3] or 0), Decimal(row[4] or 0))
                voucher.keys.update(values[str(row[2])])
                voucher.label = _label(row, 5)
                vouchers[voucher.id] = voucher
    return vouchers


def check_postings(
    store: Store,
    client: KingdeeClient,
    *,
    kingdee_connection: str,
    since: dt.datetime | None = None,
    ids: Collection[int] | None = None,
    already: ReadBack | None = None,
) -> PostingCheck:
    """Every posting yecai holds as done must be in Kingdee exactly once, with the same totals.

    Vouchers are found by the key token in their 摘要 (a voucher in two copies shows up as a
    duplicate) or their key field; bills by their deterministic bill number (which Kingdee keeps
    unique). With `since`, only postings changed since then are checked, and vouchers Kingdee
    holds that yecai does not know are left to the full check and the reconciliation. With `ids`,
    only those postings are checked (the share of a sync that one worker sent); postings `already`
    read back while sending are not asked about again.
    """
    check = PostingCheck()
    with store.transaction() as session:
        # the payloads (the Models sent, the largest column) are not what is checked
        query = (
            select(Posting).options(defer(Posting.payload)).where(Posting.connection == kingdee_connection)
        )
        if since is not None:
            query = query.where(Posting.updated_at >= since)
        if ids is not None:
            query = query.where(Posting.id.in_(list(ids)))
        postings = {p.posting_key: p for p in session.scalars(query)}
    if since is None and ids is None:
        vouchers = read_yecai_vouchers(client, [p for p in postings.values() if p.form_id == FORM_ID])
    else:
        done = already or ReadBack()
        touched = [p for p in postings.values() if p.form_id == FORM_ID and p.kind != "delete"]
        vouchers: dict[str, KingdeeVoucher] = {}
        _merge(vouchers, {i: v for i, v in done.vouchers.items() if v.keys & postings.keys()})
        _merge(vouchers, read_back(client, [key_ref(p) for p in touched if p.posting_key not in done.keys]))
    by_key: dict[str, list[KingdeeVoucher]] = defaultdict(list)
    for voucher in vouchers.values():
        check.vouchers += 1
        check.debit_total += voucher.debit
        check.credit_total += voucher.credit
        for key in voucher.keys:
            by_key[key].append(voucher)
    bills = _bills_in_kingdee(
        client, [p for p in postings.values() if p.form_id != FORM_ID and p.kind != "delete"]
    )
    for key, posting in postings.items():
        if posting.form_id != FORM_ID:
            _check_bill(check, posting, bills)
            continue
        found = by_key.get(key, [])
        # In Kingdee as yecai knows it: posted/saved documents, and reversed originals (they stay,
        # beside their reversal). Superseded and deleted originals are gone (rewritten/removed).
        in_kingdee = posting.state in (*_LIVE, PostingState.REVERSED) and posting.kind != "delete"
        if not in_kingdee:
            if found and posting.state != PostingState.SUPERSEDED:
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
    if since is None and ids is None:
        for key in sorted(set(by_key) - set(postings)):
            check.unknown.append(f"{key} (not in yecai)")
    return check
