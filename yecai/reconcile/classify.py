"""Comparing the sides: every difference typed, with its amounts, identifiers and what to do.

Pure functions over what `sides` read. Kingdee vouchers are tied to postings by their key (FBillNo,
custom field or 摘要 token); amounts are compared per project × account cell of each voucher. The
five types and their exact rules are in docs/reconciliation.md; the messages say them, Chinese first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from yecai import labels
from yecai.domain.money import ZERO
from yecai.reconcile.sides import (
    KingdeeVoucher,
    Line,
    PostedSide,
    PostedVoucher,
    PostingRef,
    cells,
    signature,
)

MISSING = "missing_in_kingdee"
UNKNOWN = "unknown_in_kingdee"
AMOUNT = "amount_mismatch"
CHANGED = "changed_in_kingdee"
SOURCE = "source_changed"
KINDS = (MISSING, UNKNOWN, AMOUNT, CHANGED, SOURCE)

# the types in words: one table for the console, the workbook and the CLI (yecai.labels)
TITLES: dict[str, tuple[str, str]] = {kind: labels.VOCABULARY["recon"][kind] for kind in KINDS}
ADVICE: dict[str, tuple[str, str]] = {
    MISSING: (
        "查明凭证为何不在金蝶（被删除？上机日志可查）；应保留则在金蝶恢复，或联系实施顾问按过账键重新过账；"
        "若本就该删除，请在源系统作废该单据，让业财按更正流程处理。",
        "find out why the voucher is not in Kingdee (deleted? the audit log shows who); if it should stay, "
        "restore it or have the integrator re-post it by its posting key; if it should go, void the document "
        "in the source so yecai corrects it.",
    ),
    UNKNOWN: (
        "这是金蝶中手工录入（或键不属于业财有效过账）的凭证；若是合理的补记，请在源系统补录对应单据或记录说明；"
        "若是重复记账，请在金蝶删除或冲销。",
        "this voucher was entered by hand in Kingdee (or carries a key of no live yecai posting); if it is a "
        "proper adjustment, record it in the source or note why; if it books the same thing twice, delete or "
        "reverse it in Kingdee.",
    ),
    AMOUNT: (
        "金蝶凭证的金额与业财过账不同（被手工改过，或同一过账在金蝶有两张凭证）；以源系统为准时请在金蝶改回或删除重复凭证，"
        "以金蝶为准时请在源系统更正单据，业财将按更正流程更新。",
        "the Kingdee voucher's amount differs from what yecai posted (edited by hand, or the same posting is in "
        "two vouchers); if the source is right, restore the amount or delete the duplicate in Kingdee; if "
        "Kingdee is right, correct the document in the source and yecai will follow.",
    ),
    CHANGED: (
        "金额仍一致，但凭证在过账后被改动（反审核、摘要或分录调整、改了日期）；确认是否有意，若否请在金蝶改回并重新审核。",
        "the amounts still agree, but the voucher was changed after posting (unaudited, lines or summaries "
        "edited, or re-dated); confirm it was intended, otherwise restore it and audit it again in Kingdee.",
    ),
    SOURCE: (
        "单据在过账后于源系统被修改或删除，尚未更正到金蝶；运行同步，业财按更正策略更新（未审核）或红字冲销（已审核）；"
        "更正策略为 hold 时请人工处理。",
        "the document was changed or deleted in the source after posting and Kingdee is not yet corrected; "
        "run the sync and yecai updates (unaudited) or reverses (audited) it by policy; with the hold policy, "
        "act on it by hand.",
    ),
}
# Kingdee's status ladder: a yecai voucher found lower than yecai left it was taken back.
STATUS_RANK = {"Z": 0, "A": 1, "D": 1, "B": 2, "C": 3}


@dataclass(slots=True)
class Difference:
    """One difference as classified, before it is stored (`service.DifferenceView` reads it back).

    Amounts are debit − credit of one project × account × period cell, or, for a difference about a
    whole voucher, its debit total.
    """

    kind: str  # one of KINDS
    project: str | None  # PM project code; None: no 项目 dimension, or a voucher over several
    account: str | None  # account number, or a voucher's accounts joined
    period: str  # YYYY-MM
    source_amount: Decimal | None  # as the source says now; None: no source side
    yecai_amount: Decimal | None  # as yecai posted it; None: yecai posted nothing
    kingdee_amount: Decimal | None  # as Kingdee holds it; None: not in Kingdee
    message_zh: str
    message_en: str
    posting_id: int | None = None
    posting_key: str | None = None
    kingdee_number: str | None = None
    kingdee_id: str | None = None
    document_ids: list[int] = field(default_factory=list)


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _cell_text(project: str | None, account: str, period: str) -> tuple[str, str]:
    return (
        f"项目 {project or '（无项目）'} · 科目 {account} · {period}",
        f"project {project or '(none)'} · account {account} · {period}",
    )


def _match(voucher: KingdeeVoucher, side: PostedSide) -> tuple[PostingRef | None, list[PostingRef]]:
    """(the live posting the voucher belongs to, every posting whose key it carries)."""
    refs: list[PostingRef] = []
    found = side.by_value.get(voucher.number)
    if found is not None:
        refs.append(found)
    for value in voucher.values.values():
        if value in side.by_value:
            refs.append(side.by_value[value])
    refs.extend(side.by_token[t] for t in sorted(voucher.tokens) if t in side.by_token)
    live = next((r for r in refs if r.in_kingdee), None)
    return live, refs


def _per_cell(
    kind: str,
    posted: PostedVoucher,
    kingdee: dict[tuple[str | None, str], Decimal],
    numbers: str | None,
    kingdee_id: str | None,
    zh: str,
    en: str,
    only_different: bool,
) -> list[Difference]:
    ours = cells(posted.lines)
    source = cells(posted.source_lines)
    out: list[Difference] = []
    for cell in sorted(set(ours) | set(kingdee), key=lambda c: (c[0] or "", c[1])):
        project, account = cell
        yecai_amount = ours.get(cell, ZERO)
        kingdee_amount = kingdee.get(cell, ZERO)
        source_amount = source.get(cell, ZERO)
        if only_different and kind == AMOUNT and yecai_amount == kingdee_amount:
            continue
        if only_different and kind == SOURCE and source_amount == yecai_amount:
            continue
        where_zh, where_en = _cell_text(project, account, posted.period)
        amounts_zh = (
            f"源系统 {_money(source_amount)} / 业财 {_money(yecai_amount)} / 金蝶 {_money(kingdee_amount)}"
        )
        amounts_en = f"source {_money(source_amount)} / yecai {_money(yecai_amount)} / Kingdee {_money(kingdee_amount)}"
        advice_zh, advice_en = ADVICE[kind]
        out.append(
            Difference(
                kind,
                project,
                account,
                posted.period,
                source_amount,
                yecai_amount,
                kingdee_amount,
                f"{where_zh}：{zh}（{amounts_zh}）。处理：{advice_zh}",
                f"{where_en}: {en} ({amounts_en}). What to do: {advice_en}",
                posted.posting_id,
                posted.posting_key,
                numbers,
                kingdee_id,
                list(posted.changed_documents if kind == SOURCE else posted.documents),
            )
        )
    return out


def _voucher_level(
    kind: str,
    posted: PostedVoucher | None,
    voucher: KingdeeVoucher | None,
    zh: str,
    en: str,
    *,
    posting: PostingRef | None = None,
) -> Difference:
    """One difference for a whole voucher (changed in Kingdee): its accounts joined, its totals."""
    lines: list[Line] = posted.lines if posted else voucher.lines if voucher else []
    projects = sorted({x.project for x in lines if x.project})
    accounts = ", ".join(sorted({x.account for x in lines}))[:200] or None
    debit_yecai = sum((x.debit for x in posted.lines), ZERO) if posted else None
    debit_source = sum((x.debit for x in posted.source_lines), ZERO) if posted else None
    debit_kingdee = sum((x.debit for x in voucher.lines), ZERO) if voucher else None
    period = posted.period if posted else voucher.period if voucher else ""
    advice_zh, advice_en = ADVICE[kind]
    number = voucher.number if voucher else posted.kingdee_number if posted else None
    return Difference(
        kind,
        projects[0] if len(projects) == 1 else None,
        accounts,
        period,
        debit_source,
        debit_yecai,
        debit_kingdee,
        f"凭证 {number or '—'}：{zh}。处理：{advice_zh}",
        f"voucher {number or '—'}: {en}. What to do: {advice_en}",
        posted.posting_id if posted else posting.posting_id if posting else None,
        posted.posting_key if posted else posting.posting_key if posting else None,
        number,
        voucher.id if voucher else posted.kingdee_id if posted else None,
        list(posted.documents) if posted else [],
    )


def _what_changed(posted: PostedVoucher, found: KingdeeVoucher) -> tuple[str, str] | None:
    """Why an unchanged-in-amount voucher still differs from what yecai posted (None: it does not)."""
    was, now = posted.status, found.status
    if was and STATUS_RANK.get(now, 0) < STATUS_RANK.get(was, 0):
        return (
            f"单据状态由 {was} 变为 {now}（被反审核或撤销）",
            f"status went from {was} to {now} (unaudited or withdrawn)",
        )
    if signature(posted.lines) != signature(found.lines):
        when_zh = f"，修改于 {found.modified}" if found.modified else ""
        when_en = f", modified {found.modified}" if found.modified else ""
        return (
            f"分录内容（科目、项目、摘要或行数）与过账时不同{when_zh}",
            f"its lines (accounts, projects, summaries or count) differ from what was posted{when_en}",
        )
    return None


def classify(
    side: PostedSide,
    kingdee: list[KingdeeVoucher],
    *,
    elsewhere: dict[int, str] | None = None,
) -> list[Difference]:
    """Every difference between what yecai posted (and the source now says) and what Kingdee holds."""
    differences: list[Difference] = []
    expected = {v.posting_id: v for v in side.vouchers}
    found: dict[int, list[KingdeeVoucher]] = defaultdict(list)
    for voucher in kingdee:
        live, refs = _match(voucher, side)
        if live is not None and live.posting_id in expected:
            found[live.posting_id].append(voucher)
            continue
        if live is not None:
            # A live posting of another period: the voucher was re-dated into this one.
            differences.append(
                _voucher_level(
                    CHANGED,
                    None,
                    voucher,
                    f"属于 {live.period} 的过账 {live.posting_key}，却在金蝶中记在 {voucher.period}",
                    f"belongs to posting {live.posting_key} of {live.period} but is dated {voucher.period} in Kingdee",
                    posting=live,
                )
            )
            continue
        differences.extend(_unknown(voucher, refs, side.accounts))
    for posting_id, posted in expected.items():
        vouchers = found.get(posting_id, [])
        if not vouchers:
            if elsewhere and posting_id in elsewhere:
                number = elsewhere[posting_id]
                differences.append(
                    _voucher_level(
                        CHANGED,
                        posted,
                        None,
                        f"金蝶凭证 {number} 仍有此过账，但已不在 {posted.period}（改了日期或退回暂存）",
                        f"Kingdee voucher {number} still holds this posting but no longer in {posted.period} "
                        "(re-dated, or back to draft)",
                    )
                )
            else:
                differences.extend(
                    _per_cell(
                        MISSING,
                        posted,
                        {},
                        posted.kingdee_number,
                        posted.kingdee_id,
                        f"业财已过账 {posted.posting_key}，金蝶中找不到凭证 {posted.kingdee_number or ''}",
                        f"yecai posted {posted.posting_key}; Kingdee has no voucher {posted.kingdee_number or ''}",
                        only_different=False,
                    )
                )
        else:
            differences.extend(_compare(posted, vouchers))
        if posted.changed_documents:
            deleted = len(posted.deleted_documents)
            changed = len(posted.changed_documents) - deleted
            differences.extend(
                _per_cell(
                    SOURCE,
                    posted,
                    cells(x for v in vouchers for x in v.lines),
                    posted.kingdee_number,
                    posted.kingdee_id,
                    f"过账后源系统修改 {changed} 张、删除 {deleted} 张单据",
                    f"after posting, the source changed {changed} and deleted {deleted} of its documents",
                    only_different=False,
                )
            )
    return differences


def _compare(posted: PostedVoucher, vouchers: list[KingdeeVoucher]) -> list[Difference]:
    numbers = ", ".join(v.number for v in vouchers)
    held = cells(x for v in vouchers for x in v.lines)
    if len(vouchers) > 1:
        zh = f"同一过账在金蝶有 {len(vouchers)} 张凭证（{numbers}）"
        en = f"the posting is in {len(vouchers)} Kingdee vouchers ({numbers})"
    else:
        zh, en = (
            f"金蝶凭证 {numbers} 的金额与过账不同",
            f"Kingdee voucher {numbers} holds other amounts than posted",
        )
    mismatches = _per_cell(
        AMOUNT,
        posted,
        held,
        numbers[:80],
        vouchers[0].id,
        zh,
        en,
        only_different=True,
    )
    if mismatches:
        return mismatches
    what = _what_changed(posted, vouchers[0])
    if what is None:
        return []
    return [_voucher_level(CHANGED, posted, vouchers[0], what[0], what[1])]


def _unknown(voucher: KingdeeVoucher, refs: list[PostingRef], accounts: set[str]) -> list[Difference]:
    """A voucher no live posting explains: its lines on the accounts yecai posts to, per cell."""
    if refs:
        ref = refs[0]
        zh = f"带有业财过账 {ref.posting_key} 的键，但业财中该过账为 {ref.state}（不应在金蝶）"
        en = f"carries the key of yecai posting {ref.posting_key}, which yecai holds as {ref.state} (not expected in Kingdee)"
    else:
        zh, en = (
            "凭证不带业财的过账键（手工录入）",
            "the voucher carries no yecai posting key (entered by hand)",
        )
    out: list[Difference] = []
    held = cells(x for x in voucher.lines if x.account in accounts)
    advice_zh, advice_en = ADVICE[UNKNOWN]
    for (project, account), amount in sorted(held.items(), key=lambda c: (c[0][0] or "", c[0][1])):
        where_zh, where_en = _cell_text(project, account, voucher.period)
        out.append(
            Difference(
                UNKNOWN,
                project,
                account,
                voucher.period,
                None,
                ZERO,
                amount,
                f"{where_zh}：金蝶凭证 {voucher.number}（状态 {voucher.status}）{zh}，金额 {_money(amount)}。处理：{advice_zh}",
                f"{where_en}: Kingdee voucher {voucher.number} (status {voucher.status}) {en}; amount "
                f"{_money(amount)}. What to do: {advice_en}",
                refs[0].posting_id if refs else None,
                refs[0].posting_key if refs else None,
                voucher.number,
                voucher.id,
                [],
            )
        )
    return out


def counts_of(differences: list[Difference]) -> dict[str, int]:
    """Differences per type, every type listed (zero included)."""
    counts = dict.fromkeys(KINDS, 0)
    for difference in differences:
        counts[difference.kind] += 1
    return counts
