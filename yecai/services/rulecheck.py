"""`yecai rules check`: rule sets and mapping tables against the live Kingdee chart, before posting.

Every account a rule set may post to must exist in Kingdee, be a detail (末级) account, not be
forbidden, and receive every 核算维度 the account requires (and none it does not have); every value
the current documents need must be mapped. All problems are listed at once, bilingually, so a
consultant fixes the configuration in one pass instead of learning it from failed postings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from yecai import jsonutil
from yecai.domain.documents import DOCUMENT_TYPES, AccountingStandard, Project
from yecai.errors import ConfigurationError
from yecai.kingdee.client import KingdeeClient
from yecai.mapping import checks
from yecai.mapping.interface import PlannableDocument, Unmapped
from yecai.mapping.rules import MappingTable, RuleSet
from yecai.secrets import SecretBox
from yecai.store.db import Store
from yecai.store.tables import Document
from yecai.workspace import Workspace

_FLEX = re.compile(r"^FFLEX(\d+)$")


def property_number(flex_key: str) -> str:
    """The 核算维度 (BD_FLEXITEMPROPERTY) number behind a voucher flex key.

    Kingdee's standard slots FFLEX4…FFLEX13 are HSWD01_SYS…HSWD10_SYS; custom dimensions keep
    their FF1000xx key as their number (WebAPI §7.2).
    """
    match = _FLEX.match(flex_key.upper())
    if match:
        return f"HSWD{int(match.group(1)) - 3:02d}_SYS"
    return flex_key.upper()


@dataclass(frozen=True, slots=True)
class Problem:
    rule_set: str
    role: str
    account: str
    zh: str
    en: str


@dataclass(slots=True)
class Account:
    number: str
    name: str
    leaf: bool
    forbidden: bool
    required: set[str] = field(default_factory=set)  # property numbers that must be given
    allowed: set[str] = field(default_factory=set)  # property numbers the account carries


@dataclass(slots=True)
class RuleCheckReport:
    accounts_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.problems or self.unmapped)


def book_charts(client: KingdeeClient) -> dict[str, str]:
    """账簿 number → the number of the 科目表 it keeps its accounts in (FACCTTABLEID)."""
    rows = client.query_all("BD_AccountBook", ["FNumber", "FACCTTABLEID.FNumber"])
    return {str(book): str(table) for book, table in rows if table}


def read_chart(client: KingdeeClient, table: str | None = None) -> dict[str, Account]:
    """The accounts of one 科目表 (`table`), or of every chart when None."""
    fields = ["FNumber", "FName", "FIsDetail", "FForbidStatus", "FFlEXITEMPROPERTYID.FNumber", "FInputType"]
    condition = f"FAcctTblId.FNumber = '{table}'" if table else ""
    chart: dict[str, Account] = {}
    for number, name, leaf, forbid, prop, input_type in client.query_all("BD_Account", fields, condition):
        account = chart.setdefault(str(number), Account(str(number), str(name), bool(leaf), forbid == "B"))
        if prop:
            account.allowed.add(str(prop))
            if str(input_type) == "1":
                account.required.add(str(prop))
    return chart


def _current_documents(store: Store, connection: str) -> list[PlannableDocument]:
    latest: dict[tuple[str, str], Document] = {}
    with store.transaction() as session:
        for doc in session.scalars(
            select(Document).where(Document.connection == connection).order_by(Document.id)
        ):
            latest[(doc.kind, doc.source_key)] = doc
        return [
            PlannableDocument(
                doc.id, doc.version, DOCUMENT_TYPES[doc.kind].model_validate(jsonutil.loads(doc.data))
            )
            for doc in latest.values()
            if not doc.deleted
        ]


def standards_in_use(
    mapping: MappingTable, documents: Sequence[PlannableDocument] = ()
) -> set[AccountingStandard]:
    """The company default, every mapped project's own standard and every pulled project's."""
    found = {mapping.accounting_standard}
    found.update(row.accounting_standard for row in mapping.projects.values() if row.accounting_standard)
    for document in documents:
        if isinstance(document.model, Project):
            found.add(mapping.standard_of(document.model.code, document.model.accounting_standard))
    return found


def standard_books(
    mapping: MappingTable, rule_sets: Sequence[RuleSet], documents: Sequence[PlannableDocument] = ()
) -> dict[AccountingStandard, set[str]]:
    """Per standard in use, the 账簿 whose chart must hold its accounts: the books of the
    organisations of the projects on it (the company default's: the default organisation's)."""
    fallback = rule_sets[0].kingdee.account_book if rule_sets else ""
    out: dict[AccountingStandard, set[str]] = defaultdict(set)
    default_org = mapping.organisation_default
    out[mapping.accounting_standard].add(mapping.account_books.get(default_org or "", fallback))
    for code, row in mapping.projects.items():
        if row.accounting_standard:
            out[row.accounting_standard].add(mapping.account_book(code) or fallback)
    for document in documents:
        if isinstance(document.model, Project):
            code = document.model.code
            standard = mapping.standard_of(code, document.model.accounting_standard)
            out[standard].add(mapping.account_book(code) or fallback)
    return out


def check_rules(
    client: KingdeeClient,
    rule_sets: Sequence[RuleSet],
    mapping: MappingTable,
    *,
    store: Store | None = None,
    source_connection: str | None = None,
) -> RuleCheckReport:
    report = RuleCheckReport()
    documents = (
        _current_documents(store, source_connection) if store is not None and source_connection else []
    )
    in_use = standards_in_use(mapping, documents)
    # each standard's accounts are looked up in the chart of the books that keep it (two books may
    # hold the same number with different meanings: 5401)
    tables = book_charts(client)
    books = standard_books(mapping, rule_sets, documents)
    charts: dict[str | None, dict[str, Account]] = {}
    seen: dict[tuple[str, str, tuple[str, ...], str | None], list[str]] = defaultdict(list)
    for rules in rule_sets:
        for use in checks.accounts_used(rules, mapping):
            # One account book follows one standard: accounts of a standard no project uses
            # (small-enterprise numbers in a CAS book) are not expected to exist.
            if use.standard not in in_use:
                continue
            for book in sorted(books.get(use.standard) or {rules.kingdee.account_book}):
                seen[(use.account, use.role, use.flex_keys, tables.get(book))].append(rules.name)
    for (number, role, flex_keys, table), names in sorted(seen.items(), key=lambda item: str(item[0])):
        report.accounts_checked += 1
        where = ", ".join(sorted(set(names)))
        if table not in charts:
            charts[table] = read_chart(client, table)
        account = charts[table].get(number)
        if account is None:
            report.problems.append(
                Problem(
                    where,
                    role,
                    number,
                    f"科目 {number} 在金蝶中不存在",
                    f"account {number} does not exist in Kingdee",
                )
            )
            continue
        if not account.leaf:
            report.problems.append(
                Problem(
                    where,
                    role,
                    number,
                    f"科目 {number} {account.name} 不是明细科目，只能使用末级科目",
                    f"account {number} {account.name} is not a detail (leaf) account",
                )
            )
        if account.forbidden:
            report.problems.append(
                Problem(
                    where,
                    role,
                    number,
                    f"科目 {number} {account.name} 已禁用",
                    f"account {number} {account.name} is forbidden",
                )
            )
        given = {property_number(key) for key in flex_keys}
        for missing in sorted(account.required - given):
            report.problems.append(
                Problem(
                    where,
                    role,
                    number,
                    f"科目 {number} {account.name} 必须录入核算维度 {missing}，规则未提供",
                    f"account {number} {account.name} requires dimension {missing}, which the rule does not give",
                )
            )
        for extra in sorted(given - account.allowed):
            report.problems.append(
                Problem(
                    where,
                    role,
                    number,
                    f"科目 {number} {account.name} 未启用核算维度 {extra}，规则却提供了",
                    f"account {number} {account.name} does not carry dimension {extra}, which the rule gives",
                )
            )
    if documents:
        report.unmapped = checks.unmapped_values(documents, rule_sets, mapping)
    return report


def check_job(store: Store, space: Workspace, secrets: SecretBox, job: str) -> RuleCheckReport:
    """`yecai rules check` for one sync job of the workspace: its rule sets and mapping table against
    the live chart of its Kingdee connection, and the values its pulled documents need."""
    sync = space.syncs.get(job)
    if sync is None:
        raise ConfigurationError(f"没有同步作业 {job}", f"no sync job {job}")
    rule_sets = space.rule_sets(sync)
    mapping = space.mapping(sync)
    with space.kingdee(sync.target, secrets) as client:
        return check_rules(client, rule_sets, mapping, store=store, source_connection=sync.source)
