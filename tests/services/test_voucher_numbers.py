"""From a Kingdee number back to the posting: an accountant types what Kingdee shows.

A voucher is shown in Kingdee by 期间 + 凭证字号 (`2026-10 记-0012`), which yecai stores as the
posting's number; yecai's own key may sit in FBillNo (`YC…`). Either finds the posting, and the
凭证字号 alone finds it too (with the other periods' vouchers of the same number beside it).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from yecai.auth.principal import SYSTEM
from yecai.services import trace
from yecai.store.db import Store
from yecai.store.tables import Posting


def add_posting(store: Store, key: str, number: str, bill_no: str) -> None:
    with store.transaction() as session:
        session.add(
            Posting(
                posting_key=key,
                connection="kd",
                rule_set="cost_actuals",
                form_id="GL_VOUCHER",
                group_key=key,
                business_date=dt.date(2026, 10, 5),
                state="posted",
                debit_total=Decimal("10.00"),
                credit_total=Decimal("10.00"),
                payload="{}",
                attempts=1,
                key_field="bill_no",
                kingdee_key=bill_no,
                kingdee_id="100",
                kingdee_number=number,
            )
        )


def test_a_voucher_is_found_by_its_number_its_word_number_or_its_bill_number(store: Store) -> None:
    add_posting(store, "a" * 20, "2026-10 记-0012", "YCAAAAAAAAAAAAAAAA")
    add_posting(store, "b" * 20, "2026-11 记-0012", "YCBBBBBBBBBBBBBBBB")
    add_posting(store, "c" * 20, "2026-10 记-0112", "YCCCCCCCCCCCCCCCCC")

    def keys(number: str) -> set[str]:
        return {p.posting_key for p in trace.postings_of_voucher(store, SYSTEM, number)}

    assert keys("2026-10 记-0012") == {"a" * 20}
    assert keys("YCAAAAAAAAAAAAAAAA") == {"a" * 20}
    assert keys("记-0012") == {"a" * 20, "b" * 20}
    assert keys("0012") == set()  # a bare number is not a 凭证字号
