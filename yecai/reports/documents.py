"""The PM documents the reports need, as the store holds them: the latest version of each.

Projects (contract value, dates, manager), budget lines (目标成本 by category), progress reports
(percent complete), payment requests, contracts and opening balances (where a contract stood at
go-live) — of one source connection, narrowed to the projects the caller may see
(`Principal.project_clause`) in the query itself. Deleted documents are left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from yecai import jsonutil
from yecai.auth.principal import Principal
from yecai.domain.documents import (
    BudgetLine,
    Contract,
    OpeningBalance,
    PaymentRequest,
    ProgressReport,
    Project,
)
from yecai.store.db import Store
from yecai.store.tables import Document

KINDS = ("project", "budget_line", "progress_report", "payment_request", "contract", "opening_balance")


@dataclass(slots=True)
class ProjectDocuments:
    projects: dict[str, Project] = field(default_factory=dict)
    budgets: dict[str, list[BudgetLine]] = field(default_factory=lambda: defaultdict(list))
    progress: dict[str, list[ProgressReport]] = field(default_factory=lambda: defaultdict(list))
    requests: dict[str, list[PaymentRequest]] = field(default_factory=lambda: defaultdict(list))
    contracts: dict[str, list[Contract]] = field(default_factory=lambda: defaultdict(list))
    openings: dict[str, list[OpeningBalance]] = field(default_factory=lambda: defaultdict(list))


def load_documents(store: Store, *, connection: str, who: Principal) -> ProjectDocuments:
    """Latest non-deleted documents of the report kinds that the caller may see."""
    latest: dict[tuple[str, str], Document] = {}
    with store.sessions() as session:
        query = (
            select(Document)
            .where(
                Document.connection == connection,
                Document.kind.in_(KINDS),
                who.project_clause(Document.project_code),
            )
            .order_by(Document.id)
        )
        for doc in session.scalars(query):
            latest[(doc.kind, doc.source_key)] = doc  # ascending ids: the newest version wins
        found = ProjectDocuments()
        for (kind, _key), doc in latest.items():
            if doc.deleted:
                continue
            data = jsonutil.loads(doc.data)
            if kind == "project":
                project = Project.model_validate(data)
                found.projects[project.code] = project
            elif kind == "budget_line":
                line = BudgetLine.model_validate(data)
                found.budgets[line.project_code].append(line)
            elif kind == "progress_report":
                report = ProgressReport.model_validate(data)
                found.progress[report.project_code].append(report)
            elif kind == "payment_request":
                request = PaymentRequest.model_validate(data)
                found.requests[request.project_code].append(request)
            elif kind == "contract":
                contract = Contract.model_validate(data)
                found.contracts[contract.project_code].append(contract)
            else:
                opening = OpeningBalance.model_validate(data)
                found.openings[opening.project_code].append(opening)
    return found
