"""Corrections are accounting, not overwrites (invariant 6): changes and deletions after posting.

When a document posted in a voucher changes or is deleted in the source, the voucher is corrected
by policy (`options.corrections` of the rule set):
- `hold` — reported, nothing touched;
- `update_or_reverse` (default) — a voucher Kingdee has not audited yet is rewritten in place with
  its group's current documents (or deleted when nothing is left); an audited one is reversed;
- `reverse` — always a red-ink reversal (红字冲销): the original's lines negated, dated in the
  current period, which releases its documents so their current versions post afresh.
The original posting, its lines and the correction stay linked (`reverses_id`): the trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.domain.documents import DOCUMENT_TYPES
from yecai.domain.posting_states import PostingState
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.keys import BILL_NO, SUMMARY, field_key, key_token, key_value
from yecai.kingdee.vouchers import NUMBER_FIELDS, voucher_label, voucher_model
from yecai.mapping import registry
from yecai.mapping.interface import PlannableDocument, PlanningContext
from yecai.mapping.rules import MappingTable, RuleSet
from yecai.store.db import Store
from yecai.store.tables import Document, Posting, PostingLine
from yecai.sync.planning import latest_documents, planning_context, target_of
from yecai.sync.states import transition

ACTIVE = (PostingState.POSTED, PostingState.SAVED)
PENDING_CORRECTION = (
    PostingState.AWAITING_APPROVAL,
    PostingState.PLANNED,
    PostingState.SENT,
    PostingState.UNCERTAIN,
    PostingState.SAVED,
)
# What a correction posting, once in Kingdee, makes of its original.
RETIRED_BY = {
    "reversal": PostingState.REVERSED,
    "update": PostingState.SUPERSEDED,
    "delete": PostingState.DELETED,
}
EDITABLE_STATUS = ("Z", "A", "D")  # not submitted, not audited: Kingdee lets Save rewrite it


@dataclass(slots=True)
class CorrectionResult:
    examined: int = 0
    held: list[str] = field(default_factory=list)  # posting keys reported only
    reversals: int = 0
    updates: int = 0
    deletions: int = 0
    released: int = 0  # originals finalised: their documents free to post afresh


def _negate(payload: dict[str, Any]) -> dict[str, Any]:
    entries = []
    for entry in payload.get("FEntity", []):
        turned = dict(entry)
        for name in ("FDEBIT", "FCREDIT", "FAMOUNTFOR"):
            if name in turned:
                turned[name] = -Decimal(turned[name])
        entries.append(turned)
    return {**payload, "FEntity": entries}


def _reversal_text(text: str, original: Posting, reversal_key: str) -> str:
    """The 摘要 of a reversal line: 冲销 + the original's 期间 凭证字号 + the original's 摘要.

    The original's key token is dropped (the reversal is not the original); a summary-keyed
    reversal carries its own token, which is how yecai finds it again after an unknown outcome.
    """
    human = " ".join(text.replace(key_token(original.posting_key), " ").split())
    cited = original.kingdee_number or (original.kingdee_key if original.key_field == BILL_NO else None)
    parts = ["冲销", cited or "", human]
    if original.key_field == SUMMARY:
        parts.append(key_token(reversal_key))
    return " ".join(part for part in parts if part)


def _retell(payload: dict[str, Any], original: Posting, reversal_key: str) -> dict[str, Any]:
    entries = [
        {**entry, "FEXPLANATION": _reversal_text(str(entry.get("FEXPLANATION", "")), original, reversal_key)}
        for entry in payload.get("FEntity", [])
    ]
    return {**payload, "FEntity": entries}


def _changed_postings(
    session: Session, rules: RuleSet, source_connection: str, kingdee_connection: str
) -> dict[int, list[Document]]:
    """Active postings of the rule set whose member documents have a newer version (or a tombstone)."""
    changed: dict[int, list[Document]] = defaultdict(list)
    rows = session.execute(
        select(PostingLine.posting_id, Document)
        .join(Document, Document.id == PostingLine.document_id)
        .join(Posting, Posting.id == PostingLine.posting_id)
        .where(
            PostingLine.rule_set == rules.name,
            PostingLine.active.is_(True),
            Posting.connection == kingdee_connection,
            Posting.state.in_(ACTIVE),
            Posting.form_id == "GL_VOUCHER",
        )
    )
    members: dict[int, list[Document]] = defaultdict(list)
    for posting_id, doc in rows:
        members[posting_id].append(doc)
    if not members:
        return changed  # nothing posted yet (a first run): no document needs reading
    latest = latest_documents(session, source_connection, rules.document)
    for posting_id, docs in members.items():
        if any(latest[d.source_key].id != d.id for d in docs):
            changed[posting_id] = [latest[d.source_key] for d in docs]
    return changed


def _pending(session: Session, posting_id: int) -> bool:
    return (
        session.scalar(
            select(Posting.id).where(Posting.reverses_id == posting_id, Posting.state.in_(PENDING_CORRECTION))
        )
        is not None
    )


def _kingdee_status(client: KingdeeClient, posting: Posting) -> str | None:
    """The voucher's status in Kingdee now; refreshes its 凭证字号 on the way.

    The number is read again because 凭证整理 (renumbering) in Kingdee may have changed it since
    the save, and a reversal cites it.
    """
    if not posting.kingdee_id:
        return posting.kingdee_status
    fields = ["FDocumentStatus", *NUMBER_FIELDS[1:]]
    rows = client.execute_bill_query("GL_VOUCHER", fields, f"FVOUCHERID = {int(posting.kingdee_id)}")
    if not rows:
        return None
    status, word, number, year, period = rows[0][:5]
    if str(number or "").strip() and year:
        posting.kingdee_number = voucher_label(year, period, str(word or ""), number)
    return str(status)


def plan_corrections(
    store: Store,
    client: KingdeeClient,
    *,
    rules: RuleSet,
    mapping: MappingTable,
    source_connection: str,
    kingdee_connection: str,
    kingdee_projects: set[str] | None = None,
    related: tuple[str, ...] = (),
    today: dt.date | None = None,
) -> CorrectionResult:
    """Plan the correction of every posted voucher whose documents changed after posting.

    `kingdee_projects` and `related` are what planning gets from the sync job: a voucher rewritten
    in place is planned with exactly the context its original had (`planning.planning_context`).
    """
    result = CorrectionResult()
    policy = str(rules.options.get("corrections", "update_or_reverse"))
    on = today or dt.date.today()
    with store.transaction() as session:
        changed = _changed_postings(session, rules, source_connection, kingdee_connection)
        for posting_id, current in changed.items():
            original = session.get(Posting, posting_id)
            assert original is not None
            result.examined += 1
            if _pending(session, posting_id):
                continue  # its correction is already on the way
            if policy == "hold":
                original.note = (
                    "源单据已变更，按策略保留待人工处理 / source changed after posting; held by policy"
                )
                result.held.append(original.posting_key)
                continue
            status = _kingdee_status(client, original)
            live = [d for d in current if not d.deleted]
            if policy == "update_or_reverse" and status in EDITABLE_STATUS:
                if not live:
                    _plan_delete(session, original)
                    result.deletions += 1
                else:
                    context = planning_context(
                        session,
                        rules,
                        source_connection=source_connection,
                        kingdee_connection=kingdee_connection,
                        kingdee_projects=kingdee_projects,
                        related=related,
                        today=on,
                    )
                    updated = _plan_update(session, original, live, rules, mapping, context)
                    if updated:
                        result.updates += 1
                    else:
                        _plan_reversal(session, original, on)
                        result.reversals += 1
                continue
            _plan_reversal(session, original, on)
            result.reversals += 1
    return result


def _derived_key(original: Posting, suffix: str) -> str:
    return hashlib.sha256(f"{original.posting_key}:{suffix}".encode()).hexdigest()[:20]


def _correction(
    original: Posting,
    *,
    posting_key: str,
    kind: str,
    business_date: dt.date,
    debit_total: Decimal,
    credit_total: Decimal,
    payload: dict[str, Any],
    kingdee_key: str | None,
    note: str,
) -> Posting:
    """A planned correction of `original`: same connection, rule set, form, group and key field."""
    return Posting(
        posting_key=posting_key,
        connection=original.connection,
        rule_set=original.rule_set,
        form_id=original.form_id,
        group_key=original.group_key,
        business_date=business_date,
        state=PostingState.PLANNED,
        debit_total=debit_total,
        credit_total=credit_total,
        payload=jsonutil.dumps(payload),
        attempts=0,
        kind=kind,
        reverses_id=original.id,
        key_field=original.key_field,
        kingdee_key=kingdee_key,
        note=note,
    )


def _plan_reversal(session: Session, original: Posting, on: dt.date) -> None:
    key = _derived_key(original, "reversal")
    payload = _retell(_negate(jsonutil.loads(original.payload)), original, key)
    payload["FDate"] = max(on, original.business_date).isoformat()
    payload.pop("FVOUCHERID", None)  # a new voucher, never the original rewritten
    if original.key_field != SUMMARY:
        # the reversal's own key where the original had its key (FBillNo or a custom F_ field)
        payload[field_key(original.key_field)] = key_value(original.key_field, key)
    elif "FBillNo" in payload:
        payload["FBillNo"] = key_value(BILL_NO, key)
    session.add(
        _correction(
            original,
            posting_key=key,
            kind="reversal",
            business_date=dt.date.fromisoformat(payload["FDate"]),
            debit_total=-original.debit_total,
            credit_total=-original.credit_total,
            payload=payload,
            kingdee_key=key_value(original.key_field, key),
            note=f"红字冲销 {original.kingdee_number or original.posting_key} / reversal",
        )
    )


def _plan_delete(session: Session, original: Posting) -> None:
    session.add(
        _correction(
            original,
            posting_key=_derived_key(original, "delete"),
            kind="delete",
            business_date=original.business_date,
            debit_total=Decimal("0.00"),
            credit_total=Decimal("0.00"),
            payload={},
            kingdee_key=original.kingdee_key,
            note=f"源单据均已删除：删除未审核凭证 {original.kingdee_number} / all source documents deleted",
        )
    )


def _plan_update(
    session: Session,
    original: Posting,
    live: list[Document],
    rules: RuleSet,
    mapping: MappingTable,
    context: PlanningContext,
) -> bool:
    """Rewrite an unaudited voucher with its group's current documents; False if they regroup."""
    model_of = DOCUMENT_TYPES[rules.document]
    documents = [
        PlannableDocument(d.id, d.version, model_of.model_validate(jsonutil.loads(d.data))) for d in live
    ]
    plan = registry.plan(documents, rules, mapping, context)
    same = [p for p in plan.vouchers if p.group_key == original.group_key]
    if len(plan.vouchers) != 1 or not same:
        return False
    voucher = same[0]

    # an update rewrites the same Kingdee voucher: it stays in the book it was posted to
    book = (jsonutil.loads(original.payload).get("FAccountBookID") or {}).get("FNumber")
    payload = voucher_model(voucher, target_of(rules, book))
    payload["FVOUCHERID"] = int(original.kingdee_id or 0)
    if original.kingdee_key and original.key_field != SUMMARY:
        # the same Kingdee document keeps its key value (FBillNo or custom field): found by it
        payload[field_key(original.key_field)] = original.kingdee_key
        kingdee_key: str | None = original.kingdee_key
    else:
        kingdee_key = key_value(SUMMARY, voucher.posting_key)  # the rewritten 摘要 carries this token
    update = _correction(
        original,
        posting_key=voucher.posting_key,
        kind="update",
        business_date=voucher.date,
        debit_total=voucher.debit_total,
        credit_total=voucher.credit_total,
        payload=payload,
        kingdee_key=kingdee_key,
        note=f"源单据变更：改写未审核凭证 {original.kingdee_number} / rewrite of an unaudited voucher",
    )
    amounts = {
        d.id: getattr(m.model, "amount", Decimal("0.00")) for d, m in zip(live, documents, strict=True)
    }
    update.lines = [
        PostingLine(document_id=d.id, rule_set=rules.name, line_no=1, amount=amounts[d.id], active=False)
        for d in live
    ]
    session.add(update)
    return True


def finalize(store: Store, *, kingdee_connection: str) -> int:
    """Once a correction is in Kingdee, retire its original and move the document bindings.

    A reversal or deletion releases the original's documents (their lines become inactive), so the
    current versions post afresh; an update takes the bindings over. Returns how many originals
    were retired.
    """
    retired = 0
    with store.transaction() as session:
        corrections = session.scalars(
            select(Posting).where(
                Posting.connection == kingdee_connection,
                Posting.kind.in_(("reversal", "update", "delete")),
                Posting.state == PostingState.POSTED,
            )
        )
        for correction in corrections:
            original = session.get(Posting, correction.reverses_id) if correction.reverses_id else None
            if original is None or original.state not in ACTIVE:
                continue
            transition(original, RETIRED_BY[correction.kind], reason=f"{correction.kind} in Kingdee")
            for line in original.lines:
                line.active = False
            session.flush()
            if correction.kind == "update":
                for line in correction.lines:
                    line.active = True
            retired += 1
    return retired
