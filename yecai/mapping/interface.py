"""The planning interface shared by every event: documents in, planned vouchers and bills out.

A planner (one per `Event`, in `yecai.mapping.events`) is a pure function of the documents, the
rule set, the mapping table and a `PlanningContext`; it returns a `Plan`: balanced vouchers and
bills, each with its deterministic posting key and the documents it carries, plus every value it
could not map and every document it held back (with the reason, in Chinese and English).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from yecai.domain.bills import Bill
from yecai.domain.bills import bill_number as bill_number  # planners name bills with it
from yecai.domain.vouchers import Voucher
from yecai.mapping.rules import MappingTable, RuleSet

KEY_LENGTH = 20  # hex characters of SHA-256 kept in the posting key (80 bits)

Planned = Voucher | Bill


@dataclass(frozen=True, slots=True)
class PlannableDocument:
    """A validated document as stored: its id, version (content hash), kind and content."""

    document_id: int
    version: str
    model: Any  # the canonical document (CostRecord, Invoice, …)

    @property
    def source_key(self) -> str:
        return str(self.model.key)


UNMAPPED_LABELS = {
    "project": "项目",
    "category": "成本类别",
    "supplier": "供应商",
    "customer": "客户",
    "department": "部门",
    "organisation": "组织",
    "worker": "员工",
    "account": "科目",
    "cost_item": "费用明细",
}


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A value with no mapping; the documents carrying it are held back, not posted."""

    kind: str  # "project" | "category" | "supplier" | "customer" | "department" | "account" | …
    value: str
    document_ids: tuple[int, ...]

    @property
    def zh(self) -> str:
        label = UNMAPPED_LABELS.get(self.kind, self.kind)
        return f"{label} {self.value} 没有映射（{len(self.document_ids)} 条单据暂不过账）"

    @property
    def en(self) -> str:
        return f"{self.kind} {self.value} is not mapped ({len(self.document_ids)} documents held back)"


@dataclass(frozen=True, slots=True)
class Held:
    """Documents a planner will not post yet, and why (e.g. an unapproved valuation)."""

    document_ids: tuple[int, ...]
    zh: str
    en: str


@dataclass(slots=True)
class Plan:
    postings: list[Planned] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    # groups whose amounts cancel out exactly: nothing to post yet, documents stay unbound
    zero_groups: list[str] = field(default_factory=list)

    def add(self, voucher: Voucher | None, group: str) -> None:
        """Post a group's voucher; a group whose lines cancel out (None) is noted, not posted."""
        if voucher is None:
            self.zero_groups.append(group)
        else:
            self.postings.append(voucher)

    @property
    def vouchers(self) -> list[Voucher]:
        return [p for p in self.postings if isinstance(p, Voucher)]

    @property
    def bills(self) -> list[Bill]:
        return [p for p in self.postings if isinstance(p, Bill)]


@dataclass(frozen=True, slots=True)
class PlanningContext:
    """What a planner may know beyond the documents (all optional)."""

    connection: str  # the Kingdee connection written to: part of every posting key
    project_names: Mapping[str, str] = field(default_factory=dict)
    kingdee_projects: AbstractSet[str] | None = None  # 项目 numbers present in Kingdee
    # documents of other kinds a planner may consult (e.g. contracts for a valuation's retention rate)
    related: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    # earlier postings' figures a planner needs (e.g. revenue recognised so far per project)
    history: Mapping[str, Any] = field(default_factory=dict)
    today: dt.date | None = None


Planner = Callable[[Sequence[PlannableDocument], RuleSet, MappingTable, PlanningContext], Plan]


def key_token(posting_key: str) -> str:
    """The marker written into every voucher line's 摘要 so a posting can be found again by its key.

    No '[', '_' or '%' (LIKE wildcards on Kingdee's SQL Server) and no '<' (some deployments'
    WAF blocks it), so `FEXPLANATION like '%#YC:<key>%'` finds exactly this posting. (The same
    rule as `yecai.kingdee.keys.key_token`; mapping may not import the Kingdee package.)
    """
    return f"#YC:{posting_key}"


def posting_key(connection: str, rule_set: str, group_key: str, members: Iterable[str]) -> str:
    """Deterministic: the same documents (by version) in the same group always give the same key."""
    material = "\n".join([connection, rule_set, group_key, *sorted(members)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def posting_keys(connection: str, rule_set: str) -> Callable[[str, list[str]], str]:
    """`posting_key` for the many groups of one plan: `keys(group_key, members)` gives the same key
    as `posting_key(connection, rule_set, group_key, members)` (it sorts `members` in place).

    The text both hash is the same; this one is put together without a list of every part per
    group (issue 15).
    """
    head = f"{connection}\n{rule_set}\n"
    sha256 = hashlib.sha256

    def key(group_key: str, members: list[str]) -> str:
        members.sort()
        material = f"{head}{group_key}\n" + "\n".join(members) if members else head + group_key
        return sha256(material.encode("utf-8")).hexdigest()[:KEY_LENGTH]

    return key


def member_keys(documents: Iterable[PlannableDocument]) -> list[str]:
    return [f"{d.source_key}@{d.version}" for d in documents]


def matches(model: Any, conditions: Mapping[str, Any]) -> bool:
    """A rule set's `filter`: every field equals the value (or is in the list of values)."""
    for name, wanted in conditions.items():
        value = getattr(model, name, None)
        value = getattr(value, "value", value)  # enums compare by value
        allowed = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        if value not in allowed and str(value) not in {str(a) for a in allowed}:
            return False
    return True
