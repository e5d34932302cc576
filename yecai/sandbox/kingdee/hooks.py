"""Which forms have rules of their own, by the `hook:` name forms.yaml gives them.

The generic engines (Save, status operations, Delete) call a form's hook at fixed points; a form
without a hook gets `BaseHook`, which has no rules.
"""

from __future__ import annotations

from yecai.sandbox.kingdee.accounts import AccountHook
from yecai.sandbox.kingdee.drafts import BaseHook, FormHook
from yecai.sandbox.kingdee.forms import Form
from yecai.sandbox.kingdee.payables import PayableHook
from yecai.sandbox.kingdee.vouchers import VoucherHook

HOOKS: dict[str, FormHook] = {"voucher": VoucherHook(), "account": AccountHook(), "payable": PayableHook()}
_NO_RULES = BaseHook()


def hook_of(form: Form) -> FormHook:
    return HOOKS.get(form.hook or "", _NO_RULES)
