"""Deliberately bad rows (`bad_rate`, off by default), the kinds a real PM system lets through.

Each record is made bad with probability `bad_rate` (its own stream, so other data never moves),
in every version alike, in a way yecai's canonical validation must refuse: an ID number with a
wrong check digit, an invoice total ≠ amount + tax, an 11-digit 清单编码 … `Dataset.defects` lists them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from yecai.sandbox.pm.records import Defect
from yecai.sandbox.pm.seeding import stream
from yecai.sandbox.pm.timeline import Version

_CHECK_CHARACTERS = "0123456789X"
_USCC_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# A mutation: given the key's random stream and its first version, the field, the kind, a detail
# and the function that makes any version of the record bad in the same way.
Mutation = tuple[str, str, str, Callable[[Any], Any]]


def _other(rng: random.Random, alphabet: str, current: str) -> str:
    return rng.choice([c for c in alphabet if c != current.upper()])


def _bad_id(rng: random.Random, record: Any) -> Mutation:
    if rng.random() < 0.7:
        wrong = record.id_number[:17] + _other(rng, _CHECK_CHARACTERS, record.id_number[17])
        return ("id_number", "bad_check_digit", wrong, lambda r: replace(r, id_number=wrong))
    impossible = record.id_number[:10] + "0230" + record.id_number[14:]  # 30 February
    return ("id_number", "impossible_birth_date", impossible, lambda r: replace(r, id_number=impossible))


def _project(rng: random.Random, record: Any) -> Mutation:
    end = record.start_date - timedelta(days=rng.randint(1, 30))
    return ("end_date", "end_before_start", str(end), lambda r: replace(r, end_date=end))


def _cost(rng: random.Random, record: Any) -> Mutation:
    delta = Decimal(rng.randint(100, 5000)).scaleb(-2)
    return (
        "amount",
        "amount_not_quantity_times_price",
        f"+{delta}",
        lambda r: replace(r, amount=r.amount + delta),
    )


def _boq(rng: random.Random, record: Any) -> Mutation:
    if rng.random() < 0.5:
        short = record.item_code[:11]
        return ("item_code", "code_not_12_digits", short, lambda r: replace(r, item_code=short))
    delta = Decimal(rng.randint(100, 90000)).scaleb(-2)
    return (
        "amount",
        "amount_not_quantity_times_price",
        f"+{delta}",
        lambda r: replace(r, amount=r.amount + delta),
    )


def _budget(rng: random.Random, record: Any) -> Mutation:
    extra = Decimal(rng.randint(1, 9)).scaleb(-3)
    return ("amount", "more_than_two_decimals", f"+{extra}", lambda r: replace(r, amount=r.amount + extra))


def _contract(rng: random.Random, record: Any) -> Mutation:
    code = record.counterparty_tax_id
    wrong = code[:17] + _other(rng, _USCC_CHARACTERS, code[17])
    return (
        "counterparty_tax_id",
        "bad_check_character",
        wrong,
        lambda r: replace(r, counterparty_tax_id=wrong),
    )


def _progress(rng: random.Random, record: Any) -> Mutation:
    over = Decimal(rng.randint(10050, 12000)).scaleb(-2)
    return ("percent_complete", "over_100_percent", str(over), lambda r: replace(r, percent_complete=over))


def _payment(rng: random.Random, record: Any) -> Mutation:
    days = rng.randint(1, 5)
    return (
        "expected_pay_date",
        "before_request_date",
        f"-{days}d",
        lambda r: replace(r, expected_pay_date=r.request_date - timedelta(days=days)),
    )


def _receipt(rng: random.Random, record: Any) -> Mutation:
    # a refund keyed as a negative receipt: no receipt is negative
    return ("amount", "not_positive", "negated", lambda r: replace(r, amount=-r.amount))


def _invoice(rng: random.Random, record: Any) -> Mutation:
    delta = Decimal(rng.randint(1, 10000)).scaleb(-2)
    if rng.random() < 0.6:
        return (
            "total_amount",
            "total_not_amount_plus_tax",
            f"+{delta}",
            lambda r: replace(r, total_amount=r.total_amount + delta),
        )
    shift = delta + Decimal(1)
    return (
        "tax_amount",
        "tax_not_amount_times_rate",
        f"+{shift}",
        lambda r: replace(r, tax_amount=r.tax_amount + shift, total_amount=r.total_amount + shift),
    )


def _attendance(rng: random.Random, record: Any) -> Mutation:
    if rng.random() < 0.5:
        return _bad_id(rng, record)
    early = f"05:{rng.randint(0, 59):02d}:00"
    return ("check_out", "check_out_before_check_in", early, lambda r: replace(r, check_out=early))


def _opening(rng: random.Random, record: Any) -> Mutation:
    # the two slips of a hand-kept 期初 sheet: a figure typed negative, 质保金 above 计量
    if rng.random() < 0.5:
        wrong = -Decimal(rng.randint(100, 5_000_000)).scaleb(-2)
        return ("paid_to_date", "negative_cumulative", str(wrong), lambda r: replace(r, paid_to_date=wrong))
    delta = Decimal(rng.randint(100, 90000)).scaleb(-2)
    return (
        "retention_to_date",
        "retention_above_billing",
        f"billed +{delta}",
        lambda r: replace(r, retention_to_date=r.billed_to_date + delta),
    )


MUTATIONS: dict[str, Callable[[random.Random, Any], Mutation]] = {
    "project": _project,
    "cost_record": _cost,
    "boq_item": _boq,
    "budget_line": _budget,
    "contract": _contract,
    "progress_report": _progress,
    "payment_request": _payment,
    "invoice": _invoice,
    "receipt": _receipt,
    "worker": _bad_id,
    "attendance": _attendance,
    "opening_balance": _opening,
}


def apply_defects(
    seed: int, bad_rate: float, histories: Mapping[str, tuple[Version, ...]]
) -> tuple[Defect, ...]:
    """Make about `bad_rate` of each stream's records bad, in place; return what was done."""
    if not 0 <= bad_rate <= 1:
        raise ValueError(f"bad_rate must be between 0 and 1, got {bad_rate}")
    if bad_rate == 0:
        return ()
    defects: list[Defect] = []
    for entity, versions in histories.items():
        by_key: dict[str, list[Version]] = {}
        for version in versions:
            if not version.deleted:
                by_key.setdefault(version.record.key, []).append(version)
        for key in sorted(by_key):
            rng = stream(seed, f"defect/{entity}", key)
            if rng.random() >= bad_rate:
                continue
            field, kind, detail, mutate = MUTATIONS[entity](rng, by_key[key][0].record)
            for version in by_key[key]:
                version.record = mutate(version.record)
            defects.append(Defect(entity, key, field, kind, detail))
    return tuple(defects)
