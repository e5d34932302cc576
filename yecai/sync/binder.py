"""Binder: tie source base data to Kingdee base data (projects → the 项目 dimension).

Reads which 项目 values Kingdee already has, records a binding for each mapped project, and —
when the rule set allows it — creates the missing ones with BatchSave. Numbers are unique in
Kingdee, so a create whose answer was lost is settled by reading the values again, never by
blindly sending it twice.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import PrivateAttr
from sqlalchemy import select
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.domain.documents import DOCUMENT_TYPES, Project
from yecai.errors import Action, Context, Fault, YecaiError
from yecai.kingdee.client import KingdeeClient, KingdeeError, SaveResult
from yecai.kingdee.keys import repr_sql
from yecai.mapping import registry
from yecai.mapping.interface import PlannableDocument
from yecai.mapping.rules import MappingTable, RuleSet
from yecai.mapping.tables import UnmappedPolicy
from yecai.store.db import Store
from yecai.store.tables import Binding, Document, PostingLine
from yecai.sync.planning import latest_documents, planning_context

BATCH = 100
# Suppliers or customers saved in one BatchSave at most (chunks are evened out below this).
PARTY_BATCH = 200


@dataclass(slots=True)
class BindResult:
    in_kingdee: int = 0  # mapped projects Kingdee already had
    created: int = 0
    unmapped: list[str] = field(default_factory=list)  # PM codes with no mapping
    missing: list[str] = field(default_factory=list)  # mapped but absent and not created
    failed: list[str] = field(default_factory=list)  # create refused, with the reason
    numbers: set[str] = field(default_factory=set)  # 项目 numbers available in Kingdee afterwards


def kingdee_project_values(client: KingdeeClient, rules: RuleSet) -> dict[str, str]:
    """Kingdee 项目 number → internal id, for the rule set's dimension category."""
    k = rules.kingdee
    condition = f"FId.FNumber = '{k.project_category}'" if k.project_category else ""
    fields = ["FEntryID", "FNumber"] if k.project_form == "BOS_ASSISTANTDATA_DETAIL" else ["FID", "FNumber"]
    return {str(row[1]): str(row[0]) for row in client.query_all(k.project_form, fields, condition)}


def bind_projects(
    store: Store,
    client: KingdeeClient,
    *,
    rules: RuleSet,
    mapping: MappingTable,
    source_connection: str,
    kingdee_connection: str,
) -> BindResult:
    result = BindResult()
    with store.transaction() as session:
        latest = latest_documents(session, source_connection, "project")
        projects = {
            key: Project.model_validate(jsonutil.loads(d.data)) for key, d in latest.items() if not d.deleted
        }
    existing = kingdee_project_values(client, rules)
    wanted: dict[str, Project] = {}
    for code, project in sorted(projects.items()):
        number = mapping.project_number(code)
        if number is None:
            result.unmapped.append(code)
        elif number in existing:
            result.in_kingdee += 1
        else:
            wanted[number] = project
    if wanted and rules.create_missing_projects:
        _create(client, rules, wanted, result)
        existing = kingdee_project_values(client, rules)
    elif wanted:
        result.missing.extend(sorted(wanted))
    result.numbers = set(existing)
    with store.transaction() as session:
        bound = {
            b.source_key: b
            for b in session.scalars(
                select(Binding).where(Binding.connection == kingdee_connection, Binding.kind == "project")
            )
        }
        for code in projects:
            number = mapping.project_number(code)
            if number is None or number not in existing:
                continue
            binding = bound.get(code)
            if binding is None:
                session.add(
                    Binding(
                        connection=kingdee_connection,
                        kind="project",
                        source_key=code,
                        form_id=rules.kingdee.project_form,
                        kingdee_id=existing[number],
                        kingdee_number=number,
                    )
                )
            else:
                binding.kingdee_id, binding.kingdee_number = existing[number], number
    return result


def _create(client: KingdeeClient, rules: RuleSet, wanted: dict[str, Project], result: BindResult) -> None:
    k = rules.kingdee
    numbers = sorted(wanted)
    for start in range(0, len(numbers), BATCH):
        chunk = numbers[start : start + BATCH]
        models = []
        for number in chunk:
            model = {"FNumber": number, "FDataValue": wanted[number].name}
            if k.project_category:
                model["FId"] = {"FNumber": k.project_category}
            models.append(model)
        try:
            answer = client.batch_save(k.project_form, models, IsVerifyBaseDataField=True)
        except KingdeeError as exc:
            if exc.action in (Action.UNCERTAIN, Action.RETRY):
                continue  # settled by re-reading the values after all chunks
            raise
        for number, package in zip(chunk, answer.packages, strict=True):
            if package.ok:
                result.created += 1
            elif package.outcome and package.outcome.action == Action.UNCERTAIN:
                continue  # "number already used": it exists, the re-read will show it
            else:
                result.failed.append(f"{number}: {package.describe()}")


# --- suppliers and customers -----------------------------------------------------------------------

PARTY_FORMS = {"supplier": "BD_Supplier", "customer": "BD_Customer"}
ROLE_ZH = {"supplier": "供应商", "customer": "客户"}


@dataclass(slots=True)
class PartyResult:
    found: int = 0  # existing Kingdee base data bound by name
    created: int = 0
    failed: list[str] = field(default_factory=list)
    numbers: dict[str, dict[str, str]] = field(default_factory=lambda: {"supplier": {}, "customer": {}})


def _party_documents(session: Session, connection: str) -> dict[str, dict[str, list[Document]]]:
    """Supplier and customer names the source's current documents mention, with those documents."""
    names: dict[str, dict[str, list[Document]]] = {
        "supplier": defaultdict(list),
        "customer": defaultdict(list),
    }
    latest: dict[tuple[str, str], Document] = {}
    for doc in session.scalars(
        select(Document).where(Document.connection == connection).order_by(Document.id)
    ):
        latest[(doc.kind, doc.source_key)] = doc
    for (kind, _key), doc in latest.items():
        if doc.deleted:
            continue
        data = jsonutil.loads(doc.data)
        mentioned: list[tuple[str, object]] = []
        if kind == "payment_request":
            mentioned.append(("supplier", data.get("payee_name")))
        elif kind == "cost_record":
            mentioned.append(("supplier", data.get("supplier_name")))
        elif kind == "contract":
            role = "customer" if data.get("contract_kind") == "income" else "supplier"
            mentioned.append((role, data.get("counterparty")))
        elif kind == "invoice":
            if data.get("direction") == "in":
                mentioned.append(("supplier", data.get("seller_name")))
            else:
                mentioned.append(("customer", data.get("buyer_name")))
        elif kind == "project":
            mentioned.append(("customer", data.get("customer")))
        for role, name in mentioned:
            if isinstance(name, str) and name.strip():
                names[role][name.strip()].append(doc)
    return names


class _AskedFor(MappingTable):
    """The job's mapping, answering a party the table lacks with its would-be number and
    remembering which ones a planner asked for: those a voucher or bill will reference.

    `strict` (planning for real, `PartyBinding`): only parties yecai may create (table policy
    `create`) are answered so; the others as the table itself answers them. Without it (the dry
    plan of `_referenced`) every party is, whatever its policy.
    """

    _asked: dict[str, set[str]] = PrivateAttr(default_factory=lambda: {"supplier": set(), "customer": set()})
    _strict: bool = PrivateAttr(default=False)

    def _answer(self, role: str, name: str, table: dict[str, str], policy: UnmappedPolicy) -> str | None:
        key = name.strip()
        if key in table:
            return table[key]
        if self._strict and policy is not UnmappedPolicy.CREATE:
            return super().supplier_number(name) if role == "supplier" else super().customer_number(name)
        self._asked[role].add(key)
        return party_number(key)

    def supplier_number(self, name: str) -> str | None:
        return self._answer("supplier", name, self.suppliers, self.supplier_default)

    def customer_number(self, name: str) -> str | None:
        return self._answer("customer", name, self.customers, self.customer_default)

    @property
    def asked(self) -> dict[str, set[str]]:
        return self._asked

    def differs(self, bound: MappingTable) -> bool:
        """Whether `bound` (the mapping once the asked parties are bound) answers any of them
        otherwise than this one did: found under another number, or not bound at all."""
        return any(bound.supplier_number(n) != party_number(n) for n in self._asked["supplier"]) or any(
            bound.customer_number(n) != party_number(n) for n in self._asked["customer"]
        )


def _asking(mapping: MappingTable, *, strict: bool) -> _AskedFor:
    asked = _AskedFor.model_construct(**{name: getattr(mapping, name) for name in MappingTable.model_fields})
    asked._strict = strict
    return asked


def _referenced(
    session: Session,
    *,
    rule_sets: Sequence[RuleSet],
    mapping: MappingTable,
    source_connection: str,
    kingdee_connection: str,
    kingdee_projects: set[str] | None,
    related: tuple[str, ...],
    changed_only: bool = False,
) -> dict[str, set[str]]:
    """The parties a voucher or bill of the rule sets will reference, found by a dry plan.

    Each rule set plans (nothing is stored) its current documents not yet posted by it — new ones,
    and changed ones a correction will re-plan — with a mapping that records the parties looked
    up: a party is needed only where a dimension or a bill field asks for it, whichever document
    names it (a progress report's voucher takes its customer from the project or the contract).
    `changed_only`: the changed ones alone (what corrections need before planning; the planner
    binds the new ones' parties itself, `PartyBinding`).
    """
    asked = _asking(mapping, strict=False)
    for rules in rule_sets:
        posted_rows = session.execute(
            select(PostingLine.document_id, Document.source_key)
            .join(Document, PostingLine.document_id == Document.id)
            .where(
                Document.connection == source_connection,
                Document.kind == rules.document,
                PostingLine.rule_set == rules.name,
                PostingLine.active.is_(True),
            )
        ).all()
        if changed_only and not posted_rows:
            continue  # nothing posted by the rule set yet: nothing a correction re-plans
        posted = {doc_id for doc_id, _key in posted_rows}
        posted_keys = {key for _doc_id, key in posted_rows}
        latest = latest_documents(session, source_connection, rules.document)
        model_of = DOCUMENT_TYPES[rules.document]
        documents = [
            PlannableDocument(doc.id, doc.version, model_of.model_validate(jsonutil.loads(doc.data)))
            for doc in latest.values()
            if not doc.deleted
            and doc.id not in posted
            and (not changed_only or doc.source_key in posted_keys)
        ]
        if not documents:
            continue
        context = planning_context(
            session,
            rules,
            source_connection=source_connection,
            kingdee_connection=kingdee_connection,
            kingdee_projects=kingdee_projects,
            related=related,
        )
        registry.plan(documents, rules, asked, context)
    return asked._asked


def party_number(name: str) -> str:
    """A stable Kingdee number for a party yecai creates: "YC" + 8 hex of the name's hash."""
    return "YC" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8].upper()


def bind_parties(
    store: Store,
    client: KingdeeClient,
    *,
    mapping: MappingTable,
    source_connection: str,
    kingdee_connection: str,
    rule_sets: Sequence[RuleSet],
    kingdee_projects: set[str] | None = None,
    related: tuple[str, ...] = (),
    organisation: str = "100",
    senders: int = 4,
    needed: Mapping[str, set[str]] | None = None,
    changed_only: bool = False,
) -> PartyResult:
    """Find or create in Kingdee the suppliers and customers (table policy `create`) that a voucher
    or bill of `rule_sets` will reference — not every party the source happens to name.

    A party is looked up by name first (it may exist under another number), else created with a
    stable number; either way the binding is stored, so a run that dies between the create and the
    binding finds the party by name next time instead of creating it twice. Lookups and creates
    go `senders` calls at once (the data centre's concurrency limit). Which parties are referenced
    is found by a dry plan of the rule sets (`changed_only`: of the documents changed after posting,
    what corrections re-plan), unless the caller knows them already (`needed`, role → names: what
    the real plan asked for, `PartyBinding`).
    """
    result = PartyResult()
    policies = {"supplier": mapping.supplier_default, "customer": mapping.customer_default}
    tables = {"supplier": mapping.suppliers, "customer": mapping.customers}
    with store.transaction() as session:
        bound = {
            (b.kind, b.source_key): b.kingdee_number
            for b in session.scalars(
                select(Binding).where(
                    Binding.connection == kingdee_connection, Binding.kind.in_(tuple(PARTY_FORMS))
                )
            )
        }
        if needed is None and changed_only:
            # cheap when nothing is posted yet (the nightly case): no document is read at all
            needed = _referenced(
                session,
                rule_sets=rule_sets,
                mapping=mapping,
                source_connection=source_connection,
                kingdee_connection=kingdee_connection,
                kingdee_projects=kingdee_projects,
                related=related,
                changed_only=True,
            )
        # The names to consider: those asked for, else every party the source's documents mention.
        names = (
            {role: set(needed.get(role, ())) for role in PARTY_FORMS}
            if needed is not None
            else {role: set(found) for role, found in _party_documents(session, source_connection).items()}
        )
        # Only parties yecai may create and has not bound yet are worth a dry plan.
        candidates = {
            role: {
                name
                for name in names[role]
                if policies[role] is UnmappedPolicy.CREATE
                and name not in tables[role]
                and (role, name) not in bound
            }
            for role in PARTY_FORMS
        }
        if needed is None:
            needed = (
                _referenced(
                    session,
                    rule_sets=rule_sets,
                    mapping=mapping,
                    source_connection=source_connection,
                    kingdee_connection=kingdee_connection,
                    kingdee_projects=kingdee_projects,
                    related=related,
                )
                if any(candidates.values())
                else {role: set() for role in PARTY_FORMS}
            )
    for role, form_id in PARTY_FORMS.items():
        if policies[role] is not UnmappedPolicy.CREATE:
            continue
        missing = sorted(n for n in candidates[role] if n in needed.get(role, ()))
        # Every party bound earlier is known by its number: a planner never asks for it again.
        for (kind, name), number in bound.items():
            if kind == role:
                result.numbers[role][name] = number
        if not missing:
            continue
        existing = _by_name(client, form_id, missing, senders)
        result.found += len(existing)
        to_create = [name for name in missing if name not in existing]
        created, unsettled = _create_parties(client, form_id, role, to_create, organisation, senders, result)
        # A party saved is known by the number it was saved under; only those whose answer was
        # lost (or refused as "number already used") are read back by name — never created twice.
        numbers = {
            **existing,
            **created,
            **(_by_name(client, form_id, unsettled, senders) if unsettled else {}),
        }
        with store.transaction() as session:
            for name, number in numbers.items():
                session.add(
                    Binding(
                        connection=kingdee_connection,
                        kind=role,
                        source_key=name,
                        form_id=form_id,
                        kingdee_id=None,
                        kingdee_number=number,
                    )
                )
                result.numbers[role][name] = number
        # Bound what could be, kept it; but a party left unbound by a transient failure (an error
        # page, a lost answer whose write has not landed yet) would hold back its documents, and
        # they would post later in a voucher of their own beside the group's: the run stops here
        # and the retry binds the rest before anything is planned.
        pending = sorted(set(unsettled) - set(numbers))
        if pending:
            raise YecaiError(
                f"{len(pending)} 个{ROLE_ZH[role]}尚未在金蝶中确认（如 {pending[0]}），稍后重试",
                f"{len(pending)} {role}(s) not yet confirmed in Kingdee (e.g. {pending[0]}); will retry",
                Action.RETRY,
                Fault.TRANSIENT,
                Context(connection=kingdee_connection, form_id=form_id),
            )
    return result


def _create_parties(
    client: KingdeeClient,
    form_id: str,
    role: str,
    names: list[str],
    organisation: str,
    senders: int,
    result: PartyResult,
) -> tuple[dict[str, str], list[str]]:
    """BatchSave the parties, `senders` calls at once: (name → number saved, names unsettled)."""
    chunks = _even_chunks(names, senders, PARTY_BATCH)

    def save(chunk: list[str]) -> SaveResult | None:
        models = [
            {
                "FNumber": party_number(name),
                "FName": name,
                "FCreateOrgId": {"FNumber": organisation},
                "FUseOrgId": {"FNumber": organisation},
            }
            for name in chunk
        ]
        try:
            return client.batch_save(form_id, models, IsVerifyBaseDataField=True)
        except KingdeeError as exc:
            if exc.action in (Action.UNCERTAIN, Action.RETRY):
                return None  # settled by the lookup by name (or the next run)
            raise

    created: dict[str, str] = {}
    unsettled: list[str] = []
    with ThreadPoolExecutor(max(1, senders), thread_name_prefix="yecai-bind") as pool:
        for chunk, answer in zip(chunks, pool.map(save, chunks), strict=True):
            if answer is None:
                unsettled.extend(chunk)
                continue
            for name, package in zip(chunk, answer.packages, strict=True):
                if package.ok:
                    result.created += 1
                    created[name] = package.number or party_number(name)
                elif package.outcome and package.outcome.action == Action.UNCERTAIN:
                    unsettled.append(name)  # "number already used": it exists, read it back
                else:
                    result.failed.append(f"{role} {name}: {package.describe()}")
    return created, unsettled


def _even_chunks(names: list[str], senders: int, most: int) -> list[list[str]]:
    """`names` in chunks of at most `most`, as even as the calls in flight allow.

    566 suppliers in chunks of 100 are 4 calls and then 2 (two rounds of 550 ms at 5 ms a record);
    in 4 chunks of 142 they are one round of 760 ms.
    """
    if not names:
        return []
    calls = max(-(-len(names) // most), 1)
    calls = -(-calls // max(senders, 1)) * max(senders, 1)  # whole rounds of `senders` calls
    # but never below 50 a call: a handful of names is one call, not `senders`
    size = min(most, max(-(-len(names) // calls), 50))
    return [names[start : start + size] for start in range(0, len(names), size)]


def _by_name(client: KingdeeClient, form_id: str, names: list[str], senders: int = 1) -> dict[str, str]:
    """Name → number of the base data Kingdee already has under those names (`senders` at once)."""
    chunks = [names[start : start + 40] for start in range(0, len(names), 40)]

    def read(chunk: list[str]) -> list[list[Any]]:
        condition = "FName in (" + ",".join(repr_sql(n) for n in chunk) + ")"
        return list(client.query_all(form_id, ["FNumber", "FName"], condition))

    found: dict[str, str] = {}
    with ThreadPoolExecutor(max(1, senders), thread_name_prefix="yecai-bind") as pool:
        for rows in pool.map(read, chunks):
            for number, name in rows:
                found.setdefault(str(name), str(number))
    return found


def with_parties(mapping: MappingTable, parties: PartyResult) -> MappingTable:
    """The mapping table with the bound parties added (explicit rows in the table still win)."""
    return mapping.model_copy(
        update={
            "suppliers": {**parties.numbers["supplier"], **mapping.suppliers},
            "customers": {**parties.numbers["customer"], **mapping.customers},
        }
    )


class PartyBinding:
    """Parties bound by the real plan: what `planning.plan_postings` asks for, then binds.

    The planner plans once with `asking(mapping)`, which answers every party yecai may create and
    has not bound with its would-be number and remembers it; `bind` then finds or creates exactly
    those (`bind_parties` with `needed`) while the planner builds the payloads. When Kingdee knew a
    party under another number, or one could not be created, the planner plans again with the
    mapping `bind` returns — nothing is stored before that. This replaces a dry plan run only to
    learn which parties are referenced (issue 15).
    """

    def __init__(
        self,
        store: Store,
        client: KingdeeClient,
        *,
        mapping: MappingTable,
        source_connection: str,
        kingdee_connection: str,
        organisation: str = "100",
        senders: int = 4,
        parties: PartyResult | None = None,
    ) -> None:
        self.store, self.client = store, client
        self.source_connection, self.kingdee_connection = source_connection, kingdee_connection
        self.organisation, self.senders = organisation, senders
        self.result = parties or PartyResult()
        self.mapping = with_parties(mapping, self.result)
        # A plan made in parts binds one part's parties on a thread of its own while the next
        # part asks for what is bound so far: the bound numbers change under this lock only.
        self._lock = threading.Lock()

    def asking(self, mapping: MappingTable) -> _AskedFor:
        """`mapping` (with every party bound so far) answering the parties still to bind."""
        return _asking(self.bind_into(mapping), strict=True)

    def bind(self, asked: Mapping[str, set[str]], rule_sets: Sequence[RuleSet]) -> MappingTable:
        """Find or create the parties asked for; the mapping with every party bound so far.

        Raises like `bind_parties` when a party is left unconfirmed: nothing is planned then.
        """
        if any(asked.values()):
            found = bind_parties(
                self.store,
                self.client,
                mapping=self.mapping,
                source_connection=self.source_connection,
                kingdee_connection=self.kingdee_connection,
                rule_sets=rule_sets,
                organisation=self.organisation,
                senders=self.senders,
                needed=asked,
            )
            with self._lock:
                self.result.found += found.found
                self.result.created += found.created
                self.result.failed += found.failed
                for role, numbers in found.numbers.items():
                    self.result.numbers[role].update(numbers)
                self.mapping = with_parties(self.mapping, self.result)
        return self.mapping

    def bind_into(self, mapping: MappingTable) -> MappingTable:
        """`mapping` with every party bound so far (explicit rows in the table still win)."""
        with self._lock:
            return with_parties(mapping, self.result)
