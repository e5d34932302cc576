"""Sub-ledgers of the sandbox month: does every supplier's and customer's balance in Kingdee net to
what the PM documents say is owed?

Runs what `yecai demo` runs (every default-job rule set on sandbox.pm's data into a served
sandbox.kingdee, in a temporary work directory unless `--workdir`), reads the 科目余额表 back per
dimension (books 001 and 002) for 应付账款 2202.* (供应商 × 项目) and 应收账款 1122 (客户 × 项目), and
compares each line with sandbox.pm's own Dataset, independently of yecai's rule code
(`tests/support/subledgers.py` says how the expectation is made). Measures the differences: their
count and the largest of them; prints the accounts' closing totals, what the books rightly hold
back, the largest balances, and one summary line of key=value pairs. Not a test: no assertions
(the suite runs a 3-project slice, `tests/ledger/test_subledgers_slice.py`).

    .venv/bin/python bench/subledgers.py --projects 50 --months 1 --seed 42
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.subledgers import PAYABLES, RECEIVABLE, SubledgerCheck, run_check


def print_report(check: SubledgerCheck, *, top: int, show: int) -> None:
    print("what the books hold back (left out of the expectation, from the documents):")
    for reason, count in sorted(check.expected.left_out.items()):
        print(f"  {count:>6}  {reason}")
    found = [*check.supplier_differences, *check.customer_differences, *check.account_differences]
    if found:
        print(f"differences ({len(found)}; the {min(top, len(found))} largest):")
        for difference in sorted(found, key=lambda d: -abs(d.delta))[:top]:
            print(f"  {difference.line()}")
    else:
        print("differences: none — every supplier × project and customer × project nets as expected")
    if check.booked.without_party:
        print(f"balances on no supplier/customer: {check.booked.without_party}")
    print("closing balances (debit − credit) per book and account:")
    for (book, account), net in sorted(check.booked.totals.items()):
        print(f"  book {book}  {account:<8} {net:>18,.2f}")
    for balance in check.balances:
        closing = balance.totals.closing
        state = "balanced" if balance.balanced else "UNBALANCED"
        print(
            f"trial balance book {balance.book} {balance.start}–{balance.end}: closing debit "
            f"{closing.debit:,.2f} credit {closing.credit:,.2f} ({state})"
        )
    if show:
        for ledger, booked, expected in (
            (f"{PAYABLES}.* 供应商 × 项目 (credit balance)", check.booked.payables, check.expected.payables),
            (
                f"{RECEIVABLE} 客户 × 项目 (debit balance)",
                check.booked.receivables,
                check.expected.receivables,
            ),
        ):
            print(f"largest {ledger}: booked / expected")
            for key in sorted(booked, key=lambda k: (-abs(booked[k]), k))[:show]:
                print(f"  {' × '.join(key):<24} {booked[key]:>16,.2f} / {expected.get(key, 0):>16,.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the demo here (default: a temporary directory)"
    )
    parser.add_argument("--top", type=int, default=20, help="differences to list")
    parser.add_argument("--show", type=int, default=5, help="largest balances to list per ledger")
    args = parser.parse_args()
    check = run_check(projects=args.projects, months=args.months, seed=args.seed, workdir=args.workdir)
    print(f"sub-ledgers of sandbox.pm: {args.projects} projects × {args.months} month(s), seed {args.seed}")
    print_report(check, top=args.top, show=args.show)
    print(check.summary())


if __name__ == "__main__":
    main()
