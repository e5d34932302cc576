"""The three sides of a reconciliation, read as voucher lines with project, account and period.

yecai: every voucher posting yecai holds as being in Kingdee, its lines taken from the Model it
sent. source: the same lines as the source's current documents would make them — scaled by the
current over the posted amount of the posting's documents, zero for deleted ones. Kingdee: every
voucher of the account books in the period (drafts excluded), read with ExecuteBillQuery, with the
project from the 项目 dimension; the 科目余额表 (GetSysReportData) cross-checks that read per account.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from yecai import jsonutil
from yecai.domain.money import ZERO
from yecai.domain.posting_states import PostingState
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.keys import BILL_NO, SUMMARY, find_by_keys, key_token, repr_sql
from yecai.kingdee.vouchers import FORM_ID
from yecai.store.db import Store
from yecai.store.tables import Binding, Document, Posting, PostingLine

TOKEN = "#YC:"
# Posting states in which yecai expects the voucher in Kingdee (a reversed original stays there,
# beside its reversal); superseded and deleted originals were rewritten or removed.
IN_KINGDEE = (PostingState.POSTED, PostingState.SAVED, PostingState.REVERSED)
KINGDEE_STATUSES = ("A", "B", "C", "D")  # drafts (Z) are no accounting yet; the 余额表 skips them too
CENT = Decimal("0.01")
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Line:
    """One voucher line: account, project (PM code; None without a 项目 dimension), amounts."""

    account: str
    project: str | None
    debit: Decimal
    credit: Decimal
    explanation: str = ""

    @property
    def net(self) -> Decimal:
        return self.debit - self.credit


def cells(lines: Iterable[Line]) -> dict[tuple[str | None, str], Decimal]:
    """(project, account) → debit − credit over the lines."""
    out: dict[tuple[str | None, str], Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        out[(line.project, line.account)] += line.net
    return dict(out)


def signature(lines: Iterable[Line]) -> Counter[tuple[str, str | None, Decimal, Decimal, str]]:
    """The content of a voucher, line order aside: what 'changed in Kingdee' compares."""
    return Counter((x.account, x.project, x.debit, x.credit, x.explanation.strip()) for x in lines)


def with_voucher_project(lines: list[Line]) -> list[Line]:
    """Lines without a 项目 dimension take the voucher's project when its other lines name one.

    A cost voucher puts 项目 on the cost line but not on 其他应付款; both belong to the project.
    """
    named = {x.project for x in lines if x.project is not None}
    if len(named) != 1:
        return lines
    project = next(iter(named))
    return [
        x if x.project is not None else Line(x.account, project, x.debit, x.credit, x.explanation)
        for x in lines
    ]


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


@dataclass(slots=True)
class PostedVoucher:
    """A voucher yecai holds as in Kingdee, with what the source says about it now."""

    posting_id: int
    posting_key: str
    rule_set: str
    key_field: str
    kingdee_key: str | None
    kingdee_id: str | None
    kingdee_number: str | None
    status: str | None  # Kingdee's FDocumentStatus as yecai last saw it
    period: str
    book: str | None
    lines: list[Line]
    source_lines: list[Line]
    documents: list[int] = field(default_factory=list)
    changed_documents: list[int] = field(default_factory=list)
    deleted_documents: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PostingRef:
    """Any voucher posting of the connection, to tell Kingdee's vouchers by their keys."""

    posting_id: int
    posting_key: str
    state: str
    period: str
    in_kingdee: bool


@dataclass(slots=True)
class PostedSide:
    vouchers: list[PostedVoucher]  # in the period, expected in Kingdee
    by_value: dict[str, PostingRef]  # FBillNo / custom field value → posting
    by_token: dict[str, PostingRef]  # posting key (摘要 token) → posting
    accounts: set[str]  # every account yecai posts to on this connection
    books: set[str]
    custom_fields: set[str]  # custom key fields (F_…) in use


def project_numbers(store: Store, kingdee_connection: str) -> dict[str, str]:
    """Kingdee 项目 number → PM project code, from the project bindings."""
    with store.transaction() as session:
        rows = session.execute(
            select(Binding.kingdee_number, Binding.source_key).where(
                Binding.connection == kingdee_connection, Binding.kind == "project"
            )
        )
        return {number: code for number, code in rows}


def payload_lines(
    payload: dict[str, Any], dimensions: Sequence[str], numbers: dict[str, str]
) -> tuple[str | None, list[Line]]:
    """(account book, lines) of a GL_VOUCHER Save Model as yecai sent it."""
    book = (payload.get("FAccountBookID") or {}).get("FNumber")
    lines: list[Line] = []
    for entry in payload.get("FEntity") or []:
        details = entry.get("FDetailID") or {}
        project = None
        for flex in dimensions:
            value = (details.get(f"FDETAILID__{flex}") or {}).get("FNumber")
            if value:
                project = numbers.get(str(value), str(value))
                break
        lines.append(
            Line(
                str((entry.get("FACCOUNTID") or {}).get("FNumber") or ""),
                project,
                _decimal(entry.get("FDEBIT")),
                _decimal(entry.get("FCREDIT")),
                str(entry.get("FEXPLANATION") or ""),
            )
        )
    return (str(book) if book else None), with_voucher_project(lines)


def _scaled(lines: list[Line], factor: Decimal) -> list[Line]:
    def scale(value: Decimal) -> Decimal:
        return (value * factor).quantize(CENT, rounding=ROUND_HALF_UP)

    return [Line(x.account, x.project, scale(x.debit), scale(x.credit), x.explanation) for x in lines]


def read_posted(
    store: Store,
    *,
    kingdee_connection: str,
    period: str | None,
    dimensions: Sequence[str],
    numbers: dict[str, str],
) -> PostedSide:
    """yecai's side (and the source's, through the documents behind each posting)."""
    side = PostedSide([], {}, {}, set(), set(), set())
    with store.transaction() as session:
        postings = session.scalars(
            select(Posting)
            .where(Posting.connection == kingdee_connection, Posting.form_id == FORM_ID)
            .order_by(Posting.id)
        ).all()
        wanted: dict[int, PostedVoucher] = {}
        for posting in postings:
            in_kingdee = posting.state in IN_KINGDEE and posting.kind != "delete"
            month = posting.business_date.strftime("%Y-%m")
            ref = PostingRef(posting.id, posting.posting_key, posting.state, month, in_kingdee)
            # an update rewrites its original in place (same FBillNo): the live one must win
            if posting.key_field != SUMMARY and posting.kingdee_key:
                if in_kingdee or posting.kingdee_key not in side.by_value:
                    side.by_value[posting.kingdee_key] = ref
                if posting.key_field != BILL_NO:
                    side.custom_fields.add(posting.key_field)
            side.by_token[posting.posting_key] = ref
            book, lines = payload_lines(jsonutil.loads(posting.payload), dimensions, numbers)
            side.accounts.update(x.account for x in lines)
            if book:
                side.books.add(book)
            if not in_kingdee or (period is not None and month != period):
                continue
            wanted[posting.id] = PostedVoucher(
                posting.id,
                posting.posting_key,
                posting.rule_set,
                posting.key_field,
                posting.kingdee_key,
                posting.kingdee_id,
                posting.kingdee_number,
                posting.kingdee_status,
                month,
                book,
                lines,
                list(lines),
            )
        _attach_sources(session, wanted)
    side.vouchers = list(wanted.values())
    return side


def _attach_sources(session: Any, vouchers: dict[int, PostedVoucher]) -> None:
    """The documents behind each posting, and whether the source changed them after posting."""
    ids = list(vouchers)
    bound: dict[int, list[tuple[Decimal, Document]]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(PostingLine.posting_id, PostingLine.amount, Document)
            .join(Document, Document.id == PostingLine.document_id)
            .where(PostingLine.posting_id.in_(ids[start : start + CHUNK]), PostingLine.active.is_(True))
        )
        for posting_id, amount, document in rows:
            bound[posting_id].append((amount, document))
    # The newest version of every bound document's source key (ascending ids: the last one wins).
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    for items in bound.values():
        for _, document in items:
            keys[(document.connection, document.kind)].add(document.source_key)
    latest: dict[tuple[str, str, str], Document] = {}
    for (connection, kind), source_keys in keys.items():
        wanted = sorted(source_keys)
        for start in range(0, len(wanted), CHUNK):
            for document in session.scalars(
                select(Document)
                .where(
                    Document.connection == connection,
                    Document.kind == kind,
                    Document.source_key.in_(wanted[start : start + CHUNK]),
                )
                .order_by(Document.id)
            ):
                latest[(connection, kind, document.source_key)] = document
    for posting_id, items in bound.items():
        voucher = vouchers[posting_id]
        posted_total = current_total = ZERO
        for amount, document in items:
            voucher.documents.append(document.id)
            newest = latest.get((document.connection, document.kind, document.source_key), document)
            posted_total += amount
            if newest.id == document.id:
                current_total += amount
                continue
            voucher.changed_documents.append(document.id)
            if newest.deleted:
                voucher.deleted_documents.append(document.id)
            else:
                current_total += newest.amount if newest.amount is not None else amount
        if voucher.changed_documents and posted_total != 0:
            # The posting's lines follow its documents' amounts (a cost voucher: one category's
            # debit and credit); scaling them keeps tax splits and several lines in proportion.
            voucher.source_lines = _scaled(voucher.lines, current_total / posted_total)


@dataclass(slots=True)
class KingdeeVoucher:
    id: str
    number: str
    status: str
    period: str
    book: str
    modified: str | None
    lines: list[Line] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)  # posting keys found in its 摘要
    values: dict[str, str] = field(default_factory=dict)  # custom key field → value


def _condition(period: str | None, books: Iterable[str]) -> str:
    parts = ["FDocumentStatus in (" + ",".join(repr_sql(s) for s in KINGDEE_STATUSES) + ")"]
    if period is not None:
        year, month = period.split("-")
        parts.append(f"FYEAR = {int(year)} and FPERIOD = {int(month)}")
    chosen = sorted(books)
    if chosen:
        parts.append("FAccountBookID.FNumber in (" + ",".join(repr_sql(b) for b in chosen) + ")")
    return " and ".join(parts)


def _tokens(text: str) -> set[str]:
    found: set[str] = set()
    start = text.find(TOKEN)
    while start >= 0:
        found.add(text[start + len(TOKEN) : start + len(TOKEN) + 20])
        start = text.find(TOKEN, start + 1)
    return found


def read_kingdee(
    client: KingdeeClient,
    *,
    period: str | None,
    books: Iterable[str],
    dimensions: Sequence[str],
    numbers: dict[str, str],
    custom_fields: Iterable[str] = (),
) -> list[KingdeeVoucher]:
    """Every voucher of the books in the period (or all), line by line, as Kingdee holds it."""
    head = [
        "FVOUCHERID",
        "FBillNo",
        "FDocumentStatus",
        "FYEAR",
        "FPERIOD",
        "FAccountBookID.FNumber",
        "FModifyDate",
        "FACCOUNTID.FNumber",
        "FDEBIT",
        "FCREDIT",
        "FEXPLANATION",
    ]
    flex = [f"FDetailID.{d}.FNumber" for d in dimensions]
    custom = sorted(custom_fields)
    fields = head + flex + custom
    vouchers: dict[str, KingdeeVoucher] = {}
    for row in client.query_all(FORM_ID, fields, _condition(period, books), order="FVOUCHERID"):
        values = dict(zip(fields, row, strict=False))
        voucher_id = str(values["FVOUCHERID"])
        voucher = vouchers.get(voucher_id)
        if voucher is None:
            voucher = KingdeeVoucher(
                voucher_id,
                str(values["FBillNo"] or ""),
                str(values["FDocumentStatus"] or ""),
                f"{int(values['FYEAR'] or 0):04d}-{int(values['FPERIOD'] or 0):02d}",
                str(values["FAccountBookID.FNumber"] or ""),
                str(values["FModifyDate"]) if values.get("FModifyDate") else None,
                values={key: str(values[key]) for key in custom if values.get(key)},
            )
            vouchers[voucher_id] = voucher
        project = next((str(values[k]) for k in flex if values.get(k)), None)
        explanation = str(values["FEXPLANATION"] or "")
        voucher.tokens.update(_tokens(explanation))
        voucher.lines.append(
            Line(
                str(values["FACCOUNTID.FNumber"] or ""),
                numbers.get(project, project) if project else None,
                _decimal(values["FDEBIT"]),
                _decimal(values["FCREDIT"]),
                explanation,
            )
        )
    for voucher in vouchers.values():
        voucher.lines = with_voucher_project(voucher.lines)
    return list(vouchers.values())


def find_elsewhere(client: KingdeeClient, vouchers: Iterable[PostedVoucher]) -> dict[int, str]:
    """posting id → the Kingdee voucher number holding its key in another period (or status Z)."""
    by_field: dict[str, dict[str, int]] = defaultdict(dict)
    for voucher in vouchers:
        if voucher.key_field == SUMMARY or not voucher.kingdee_key:
            by_field[SUMMARY][key_token(voucher.posting_key)] = voucher.posting_id
        else:
            by_field[voucher.key_field][voucher.kingdee_key] = voucher.posting_id
    found: dict[int, str] = {}
    for key_field, values in by_field.items():
        hits = find_by_keys(client, FORM_ID, key_field, list(values), amount_fields=())
        for value, hit in hits.items():
            found[values[value]] = hit.number
    return found


def balance_check(
    client: KingdeeClient, *, period: str, vouchers: list[KingdeeVoucher], accounts: set[str]
) -> dict[str, Any]:
    """The 科目余额表's debit and credit of the period per account against the vouchers read.

    A difference here means the voucher read missed or misread something (paging, a filter, a
    status), so the reconciliation's Kingdee side would be wrong: it is reported with the run.
    """
    year, month = (int(part) for part in period.split("-"))
    read: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for voucher in vouchers:
        for line in voucher.lines:
            totals = read[(voucher.book, line.account)]
            totals[0] += line.debit
            totals[1] += line.credit
    checked = 0
    mismatched: list[dict[str, str]] = []
    for book in sorted({b for b, _ in read}):
        rows = client.account_balance(
            book, year, month, include_unposted=True, field_keys=("FBALANCEID", "FDEBIT", "FCREDIT")
        )
        report = {
            str(r.get("FBALANCEID") or ""): (_decimal(r.get("FDEBIT")), _decimal(r.get("FCREDIT")))
            for r in rows
        }
        for account in sorted(accounts):
            ours = read.get((book, account), [ZERO, ZERO])
            theirs = report.get(account, (ZERO, ZERO))
            checked += 1
            if (ours[0], ours[1]) != theirs:
                mismatched.append(
                    {
                        "book": book,
                        "account": account,
                        "vouchers_debit": str(ours[0]),
                        "vouchers_credit": str(ours[1]),
                        "report_debit": str(theirs[0]),
                        "report_credit": str(theirs[1]),
                    }
                )
    return {"accounts": checked, "mismatched": mismatched}
