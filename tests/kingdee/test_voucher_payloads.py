"""Where the posting key goes in a voucher's Save model, by the rule set's `key_field`.

With `summary` the 摘要 token `#YC:<key>` is the only place the key lives, so every line carries
it. With `bill_no` (or a tenant's custom `F_…` field) the key lives in that field and the 摘要 is
left to people: no technical token in the text an accountant reads.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from yecai.domain.vouchers import Voucher, VoucherLine
from yecai.kingdee.keys import key_token, key_value
from yecai.kingdee.vouchers import VoucherTarget, voucher_label, voucher_model

KEY = "0123456789abcdef0123"
TOKEN = key_token(KEY)


def voucher() -> Voucher:
    zero = Decimal("0.00")
    return Voucher(
        KEY,
        "XM1|labour|2026-10-05",
        dt.date(2026, 10, 5),
        "XM1 人工费",
        (
            VoucherLine("5401.01", Decimal("10.00"), zero, f"XM1 一号楼 人工费 宏达劳务 {TOKEN}"),
            VoucherLine("2202.02", zero, Decimal("10.00"), f"XM1 一号楼 人工费 宏达劳务 {TOKEN}"),
        ),
    )


@pytest.mark.parametrize("key_field", ["bill_no", "F_YC_POSTINGKEY"])
def test_a_key_field_keeps_the_summary_human(key_field: str) -> None:
    model = voucher_model(voucher(), VoucherTarget("001", "PRE001", key_field=key_field))
    field = "FBillNo" if key_field == "bill_no" else key_field
    assert model[field] == key_value(key_field, KEY)
    assert [e["FEXPLANATION"] for e in model["FEntity"]] == ["XM1 一号楼 人工费 宏达劳务"] * 2


def test_a_summary_key_stays_in_every_line() -> None:
    model = voucher_model(voucher(), VoucherTarget("001", "PRE001", key_field="summary"))
    assert "FBillNo" not in model
    assert all(e["FEXPLANATION"].endswith(TOKEN) for e in model["FEntity"])


def test_voucher_label() -> None:
    assert voucher_label(2026, 10, "记", "12") == "2026-10 记-0012"
    assert voucher_label(2026, 1, "收", 12345) == "2026-01 收-12345"
