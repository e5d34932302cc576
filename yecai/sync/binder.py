"""Binder: tie source base data to Kingdee base data (projects → the 项目 dimension).

Reads which 项目 values Kingdee already has, records a binding for each mapped project, and —
when the rule set allows it — creates the missing ones with BatchSave. Numbers are unique in
Kingdee, so a create whose answer was lost is settled by reading the values again, never by
blindly sending it twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from yecai import jsonutil
from yecai.domain.documents import Project
from yecai.errors import Action
from yecai.kingdee.client import KingdeeClient, KingdeeError
from yecai.mapping.rules import MappingTable, RuleSet
from yecai.store.db import Store
from yecai.store.tables import Binding, Document

BATCH = 100


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
        docs = session.scalars(
            select(Document)
            .where(Document.connection == source_connection, Document.kind == "project")
            .order_by(Document.id)
        )
        latest = {d.source_key: d for d in docs}  # ascending ids: the newest version wins
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
