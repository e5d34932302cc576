"""The chart a sync job actually posts to: every account its rule sets may use, per standard in use.

The mapping page used to list the mapping table's `cost_accounts` only — the 小企业会计准则 overrides
(4401.01.xx) — while vouchers went to the rule sets' 企业会计准则 accounts (5401.04). This lists what
`yecai.mapping.checks.accounts_used` says each rule set may post to, for the standards the job's
projects are on, with each account's name from the Kingdee chart of the books that standard uses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from yecai.domain.documents import AccountingStandard
from yecai.jsonutil import loads
from yecai.mapping.checks import accounts_used
from yecai.mapping.rules import MappingTable
from yecai.services.vouchers import ChartCache, Opener
from yecai.store.db import Store
from yecai.store.tables import Document
from yecai.workspace import Workspace


@dataclass(frozen=True, slots=True)
class AccountInUse:
    number: str
    name: str | None  # the full name from Kingdee (合同履约成本_人工费), None when unreadable
    uses: tuple[tuple[str, str], ...]  # (rule set, role) pairs that post to it
    dimensions: tuple[str, ...]  # every dimension a line on it may carry


@dataclass(frozen=True, slots=True)
class StandardInUse:
    standard: str
    books: tuple[str, ...]
    accounts: list[AccountInUse]


@dataclass(frozen=True, slots=True)
class ChartInUse:
    standards: list[StandardInUse]
    names_available: bool


def standard_books(
    store: Store, mapping: MappingTable, source: str, fallback: str
) -> dict[AccountingStandard, set[str]]:
    """Per standard in use (the company default, every mapped project's, every project the source
    sent), the 账簿 whose chart holds its accounts (the project's organisation's book)."""
    out: dict[AccountingStandard, set[str]] = defaultdict(set)
    out[mapping.accounting_standard].add(
        mapping.account_books.get(mapping.organisation_default or "", fallback)
    )
    for code, row in mapping.projects.items():
        if row.accounting_standard:
            out[row.accounting_standard].add(mapping.account_book(code) or fallback)
    with store.sessions() as session:
        rows = session.execute(
            select(Document.project_code, Document.data).where(
                Document.connection == source, Document.kind == "project", Document.deleted.is_(False)
            )
        )
        for code, data in rows:
            if not code:
                continue
            value = loads(data)
            declared = value.get("accounting_standard") if isinstance(value, dict) else None
            try:
                standard = AccountingStandard(declared) if declared else None
            except ValueError:
                standard = None
            out[mapping.standard_of(code, standard)].add(mapping.account_book(code) or fallback)
    return out


def chart_in_use(
    store: Store, space: Workspace, job: str, *, charts: ChartCache, opener: Opener
) -> ChartInUse:
    """Per standard in use, the accounts the job's rule sets may post to, named from Kingdee."""
    spec = space.syncs[job]
    mapping = space.mapping(spec)
    rule_sets = space.rule_sets(spec)
    fallback = rule_sets[0].kingdee.account_book if rule_sets else ""
    books = standard_books(store, mapping, spec.source, fallback)
    standards = set(books)
    chart = charts.chart(spec.target, opener)
    # (standard, account) → its users and dimensions, each once and in the order met (dicts as sets)
    uses: dict[tuple[str, str], dict[tuple[str, str], None]] = defaultdict(dict)
    dims: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)
    for rules in rule_sets:
        for use in accounts_used(rules, mapping):
            if use.standard in standards:
                key = (use.standard.value, use.account)
                uses[key][(rules.name, use.role)] = None
                dims[key].update(dict.fromkeys(use.dimensions))
    out: list[StandardInUse] = []
    for standard in sorted(standards, key=lambda s: s.value):
        its_books = tuple(sorted(books[standard]))
        accounts: list[AccountInUse] = []
        for value, number in sorted(uses):
            if value != standard.value:
                continue
            named = None
            for book in its_books or (None,):
                named = chart.account(number, book)
                if named is not None:
                    break
            accounts.append(
                AccountInUse(
                    number,
                    named.full_name if named else None,
                    tuple(uses[(value, number)]),
                    tuple(dims[(value, number)]),
                )
            )
        out.append(StandardInUse(standard.value, its_books, accounts))
    return ChartInUse(out, chart.available)
