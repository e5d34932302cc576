"""Invoice matching (三单匹配) as a service: a sync job's source documents from the store, matched.

`match_job` is what the CLI (`yecai match`) and the API (`GET /api/v1/reconcile/matching`) call:
it finds the job's source connection in the workspace, reads the latest non-deleted contracts,
cost records, invoices and payment requests of that connection — narrowed in the query itself to
the projects the caller may see (`Principal.project_clause`) and, when asked, to one project —
and hands them to the pure `match_contracts`. Nothing is read from Kingdee: matching compares the
PM system's own documents, so it runs before anything is posted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select

from yecai import jsonutil, labels
from yecai.auth.principal import Principal
from yecai.domain.documents import Contract, CostRecord, Invoice, PaymentRequest
from yecai.reconcile.matching import MISMATCH_ZH, MatchingResult, Mismatch, match_contracts
from yecai.reconcile.service import job_of
from yecai.reports.periods import Period
from yecai.store.db import Store
from yecai.store.tables import Document
from yecai.workspace import Workspace

KINDS = ("contract", "cost_record", "invoice", "payment_request")
MISMATCH_EN = {kind: labels.VOCABULARY["mismatch"][kind.value][1] for kind in Mismatch}


@dataclass(slots=True)
class MatchingDocuments:
    """The documents matching reads, latest versions only, as the caller may see them."""

    contracts: list[Contract] = field(default_factory=list)
    costs: list[CostRecord] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[PaymentRequest] = field(default_factory=list)


@dataclass(slots=True)
class MatchingReport:
    """One matching: the job and source it read, the project asked for, and the result."""

    job: str
    source: str
    project: str | None
    result: MatchingResult

    def counts(self) -> dict[str, int]:
        """How many unmatched items of each kind (every kind, zeros included)."""
        found = dict.fromkeys((m.value for m in Mismatch), 0)
        for item in self.result.unmatched:
            found[item.kind.value] += 1
        return found

    def summary(self) -> str:
        """One line: contracts matched and unmatched items by kind, Chinese then English."""
        counts = self.counts()
        rows, total = len(self.result.rows), len(self.result.unmatched)
        zh = "、".join(f"{MISMATCH_ZH[m]} {counts[m.value]}" for m in Mismatch)
        en = ", ".join(f"{MISMATCH_EN[m]} {counts[m.value]}" for m in Mismatch)
        return f"合同/供应商 {rows} 个，未匹配 {total} 项（{zh}）· {rows} contracts/suppliers, {total} unmatched ({en})"

    def as_dict(self) -> dict[str, Any]:
        """The report as plain values (amounts stay Decimal): what the API answers."""
        return {
            "job": self.job,
            "source": self.source,
            "period": self.result.period,
            "project": self.project,
            "rows": [
                {
                    "key": r.key,
                    "contract_no": r.contract_no,
                    "project_code": r.project_code,
                    "counterparty": r.counterparty,
                    "cost": r.cost,
                    "invoiced_net": r.invoiced_net,
                    "invoiced_tax": r.invoiced_tax,
                    "invoiced_total": r.invoiced_total,
                    "paid": r.paid,
                    "uninvoiced": r.uninvoiced,
                    "unpaid": r.unpaid,
                }
                for r in self.result.rows
            ],
            "unmatched": [
                {
                    "kind": u.kind.value,
                    "title_zh": MISMATCH_ZH[u.kind],
                    "title_en": MISMATCH_EN[u.kind],
                    "key": u.key,
                    "project_code": u.project_code,
                    "counterparty": u.counterparty,
                    "amount": u.amount,
                    "documents": list(u.documents),
                    "message_zh": u.zh,
                    "message_en": u.en,
                }
                for u in self.result.unmatched
            ],
            "counts": self.counts(),
            "total": len(self.result.unmatched),
        }


def _scope(who: Principal, project: str | None) -> object:
    """The SQL condition on a document's project: the caller's projects, and the one asked for."""
    clause = who.project_clause(Document.project_code)
    if project is not None:
        clause = and_(clause, Document.project_code == project)
    # An invoice may name no project (only its contract): read it here, keep it below only when
    # its contract is one the caller sees.
    return or_(clause, and_(Document.kind == "invoice", Document.project_code.is_(None)))


def load_matching_documents(
    store: Store, *, connection: str, who: Principal, project: str | None = None
) -> MatchingDocuments:
    """Latest non-deleted contracts, costs, invoices and payment requests of `connection`."""
    latest: dict[tuple[str, str], Document] = {}
    with store.sessions() as session:
        query = (
            select(Document)
            .where(Document.connection == connection, Document.kind.in_(KINDS), _scope(who, project))
            .order_by(Document.id)
        )
        for doc in session.scalars(query):
            latest[(doc.kind, doc.source_key)] = doc  # ascending ids: the newest version wins
        found = MatchingDocuments()
        orphans: list[Invoice] = []
        for (kind, _key), doc in latest.items():
            if doc.deleted:
                continue
            data = jsonutil.loads(doc.data)
            if kind == "contract":
                found.contracts.append(Contract.model_validate(data))
            elif kind == "cost_record":
                found.costs.append(CostRecord.model_validate(data))
            elif kind == "payment_request":
                found.payments.append(PaymentRequest.model_validate(data))
            else:
                invoice = Invoice.model_validate(data)
                (orphans if invoice.project_code is None else found.invoices).append(invoice)
    whole = who.projects is None and project is None
    visible = {c.contract_no for c in found.contracts}
    found.invoices.extend(i for i in orphans if whole or (i.contract_no or "") in visible)
    return found


def _narrowed(result: MatchingResult, who: Principal, project: str | None) -> MatchingResult:
    """Only rows of the projects the caller may see (and the one asked for) — a second fence
    behind the query, for a document whose contract belongs to another project."""

    def keep(code: str) -> bool:
        return who.sees_project(code) and (project is None or code == project)

    rows = [r for r in result.rows if keep(r.project_code)]
    unmatched = [u for u in result.unmatched if keep(u.project_code)]
    return MatchingResult(result.period, rows, unmatched)


def match_documents(
    docs: MatchingDocuments, *, period: Period, who: Principal, project: str | None = None
) -> MatchingResult:
    """`match_contracts` over loaded documents for one period, narrowed to what the caller sees."""
    result = match_contracts(docs.contracts, docs.costs, docs.invoices, docs.payments, period=str(period))
    return _narrowed(result, who, project)


def match_job(
    store: Store,
    workspace: Workspace,
    job: str | None,
    *,
    period: Period,
    who: Principal,
    project: str | None = None,
) -> MatchingReport:
    """Match the documents of the job's source connection (the named job, or the only one)."""
    name = job_of(workspace, job)
    source = workspace.syncs[name].source
    docs = load_matching_documents(store, connection=source, who=who, project=project)
    return MatchingReport(
        name, source, project, match_documents(docs, period=period, who=who, project=project)
    )
