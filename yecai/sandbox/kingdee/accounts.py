"""BD_Account's own rules: the chart of accounts is a tree spelled by its numbers.

`2221.01.01` is a child of `2221.01`; only accounts without children are 明细科目 (leaves), and
only leaves may be posted to. Parent, level, full name and the leaf flag are derived on Save;
adding a child turns its parent into a non-leaf in the same transaction, deleting its last child
turns it back into a leaf. Each account belongs to one 科目表 (FAcctTblId): numbers, parents and
leaves are per chart, so 5401 can be 合同履约成本 in one chart and 主营业务成本 in another.
"""

from __future__ import annotations

from yecai.sandbox.kingdee.drafts import BaseHook, Draft, SaveContext
from yecai.sandbox.kingdee.store import Record, Transaction, number_key

FULL_NAME_SEPARATOR = "_"  # K/3 Cloud joins the names of the levels with "_" in 全名


def parent_number(number: str) -> str | None:
    head, dot, _ = number.rpartition(".")
    return head if dot else None


class AccountHook(BaseHook):
    """Derives FParentID, FLevel, FFullName and FIsDetail of BD_Account."""

    def validate(self, ctx: SaveContext, draft: Draft) -> None:
        form = draft.form
        number = str(draft.values.get("FNUMBER") or "").strip()
        if not number:
            return
        parent = None
        parent_no = parent_number(number)
        table = draft.values.get("FACCTTBLID")
        if parent_no is not None:
            parent_id = ctx.store.find_number(form, parent_no, (table,))
            parent = ctx.store.get(form, parent_id) if parent_id is not None else None
            if parent is None:
                draft.problem("account_parent_missing", "FNumber", number=number, parent=parent_no)
                return
        name = str(draft.values.get("FNAME") or "")
        draft.values["FPARENTID"] = parent.id if parent else 0
        draft.values["FLEVEL"] = (int(parent.values.get("FLEVEL") or 1) + 1) if parent else 1
        draft.values["FFULLNAME"] = (
            f"{parent.values.get('FFULLNAME', '')}{FULL_NAME_SEPARATOR}{name}" if parent else name
        )
        prefix = number_key(number) + "."
        draft.values["FISDETAIL"] = not any(
            number_key(str(r.values.get("FNUMBER", ""))).startswith(prefix)
            for r in ctx.store.records(form)
            if r.id != draft.record_id and r.values.get("FACCTTBLID") == table
        )

    def after_put(self, ctx: SaveContext, tx: Transaction, record: Record) -> None:
        form = ctx.form("BD_Account")
        parent_id = record.values.get("FPARENTID")
        parent = tx.get(form, parent_id) if parent_id else None
        if parent is not None and parent.values.get("FISDETAIL"):
            updated = parent.copy()
            updated.values["FISDETAIL"] = False
            tx.put(form, updated)

    def after_delete(self, ctx: SaveContext, tx: Transaction, record: Record) -> None:
        form = ctx.form("BD_Account")
        parent_id = record.values.get("FPARENTID")
        parent = tx.get(form, parent_id) if parent_id else None
        if parent is None:
            return
        siblings = [
            r for r in ctx.store.records(form) if r.values.get("FPARENTID") == parent.id and r.id != record.id
        ]
        if not siblings and not parent.values.get("FISDETAIL"):
            updated = parent.copy()
            updated.values["FISDETAIL"] = True
            tx.put(form, updated)
