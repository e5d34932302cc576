"""Bill numbers (单据编号) the server assigns when a Model gives none.

Each form with a `number_format` in forms.yaml gets numbers from its own counter (`billno:<FORM>`),
skipping any number a client already took by hand. Real tenants configure this (编码规则); the
formats are inferred [INF] from public samples (`FKSQ000004`, `AR00004867`).
"""

from __future__ import annotations

from yecai.sandbox.kingdee.forms import Form
from yecai.sandbox.kingdee.store import Store, Transaction


def next_number(store: Store, tx: Transaction, form: Form) -> str:
    """The next free number of `form`, consumed only if the transaction commits."""
    pattern = form.number_format or (form.form_id.upper() + "{seq:08d}")
    while True:
        candidate = pattern.format(seq=tx.next_value(f"billno:{form.form_id.upper()}", first=1))
        if store.find_number(form, candidate) is None:
            return candidate
