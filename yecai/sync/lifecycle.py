"""Save → Submit → Audit as a state machine, with compensation when a later step fails.

A saved posting whose rule set asks for more steps is `saved`; this module submits and audits
those documents in batches per form and moves each posting along (`step`, Kingdee's status).
"Already audited" counts as done; a lock (MsgCode 13) waits for the next run; a refusal is
compensated by policy (`options.on_step_failure`): `delete` removes the half-processed document
from Kingdee (cancelling a submission first) so nothing lingers and a replay starts clean, `keep`
leaves it for a person. Either way the posting becomes `failed` with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import select

from yecai.domain.posting_states import PostingState
from yecai.errors import Action
from yecai.kingdee.client import KingdeeClient, KingdeeError, PackageResult
from yecai.mapping.rules import RuleSet
from yecai.store.db import Store
from yecai.store.tables import Posting
from yecai.sync.results import SendResult
from yecai.sync.states import STEPS, state_after, transition

STATUS_AFTER = {"submit": "B", "audit": "C"}
CHUNK = 50


def _next_step(posting: Posting) -> str | None:
    done = STEPS.index(posting.step or "save")
    return STEPS[done + 1] if done + 1 < len(STEPS) else None


def _compensate(client: KingdeeClient, posting: Posting, rules: RuleSet | None) -> str:
    policy = str((rules.options if rules else {}).get("on_step_failure", "delete"))
    if policy != "delete" or not posting.kingdee_id:
        return "保留在金蝶中待人工处理 / kept in Kingdee for a person"
    try:
        if posting.step == "submit":
            client.cancel_assign(posting.form_id, ids=[posting.kingdee_id])
        result = client.delete(posting.form_id, ids=[posting.kingdee_id])
    except KingdeeError as exc:
        return f"补偿删除失败：{exc} / compensation failed"
    if not result.ok:
        return f"补偿删除失败：{result.packages[0].describe()} / compensation failed"
    posting.kingdee_id = None
    posting.kingdee_number = None
    posting.kingdee_status = None
    posting.step = None
    return "已从金蝶删除（补偿），修正后可重放 / deleted from Kingdee (compensation); replay after the fix"


def _apply(
    client: KingdeeClient,
    posting: Posting,
    step: str,
    package: PackageResult,
    rules: RuleSet | None,
    result: SendResult,
) -> None:
    outcome = package.outcome
    if package.ok or (outcome is not None and outcome.tag == "already_audited"):
        posting.step = step
        posting.kingdee_status = STATUS_AFTER[step]
        if step == "submit":
            result.submitted += 1
        else:
            result.audited += 1
        if state_after(posting, rules) is PostingState.POSTED:
            transition(posting, PostingState.POSTED, reason=f"{step} done")
            result.posted += 1
        return
    assert outcome is not None
    if outcome.action in (Action.RETRY, Action.UNCERTAIN):
        posting.note = f"{step}: {outcome.zh} / {outcome.en}"  # stays saved: the next run tries again
        return
    posting.error_action, posting.error_fault = outcome.action.value, outcome.fault.value
    posting.error_code = package.msg_code
    posting.error_message = f"{step}：{outcome.zh}：{package.describe()} / {outcome.en}"
    posting.note = _compensate(client, posting, rules)
    if posting.kingdee_id is None:
        result.compensated += 1
    transition(posting, PostingState.FAILED, reason=f"{step} refused")
    result.failed += 1
    result.errors.append(f"{posting.posting_key}: {posting.error_message}")


def advance(
    store: Store,
    client: KingdeeClient,
    *,
    kingdee_connection: str,
    rule_sets: Mapping[str, RuleSet],
    result: SendResult,
) -> None:
    """Submit, then audit, every saved posting of the connection as far as its rule set asks."""
    for step in ("submit", "audit"):
        with store.transaction() as session:
            postings = [
                p
                for p in session.scalars(
                    select(Posting)
                    .where(Posting.connection == kingdee_connection, Posting.state == PostingState.SAVED)
                    .order_by(Posting.id)
                )
                if _next_step(p) == step and p.kingdee_id
            ]
            by_form: dict[str, list[Posting]] = defaultdict(list)
            for posting in postings:
                by_form[posting.form_id].append(posting)
            for form_id, group in by_form.items():
                for start in range(0, len(group), CHUNK):
                    chunk = group[start : start + CHUNK]
                    ids = [p.kingdee_id for p in chunk if p.kingdee_id]
                    operate = client.submit if step == "submit" else client.audit
                    try:
                        answer = operate(form_id, ids=ids)
                    except KingdeeError as exc:
                        for posting in chunk:
                            posting.note = f"{step}: {exc}"  # whole call refused: next run
                        continue
                    for posting, package in zip(chunk, answer.packages, strict=True):
                        _apply(client, posting, step, package, rule_sets.get(posting.rule_set), result)
