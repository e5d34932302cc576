"""Filling a fresh data centre from `seed.yaml`.

The seed is replayed through the same Save engine clients use (with IsAutoSubmitAndAudit, by the
integration user), so seeded base data looks exactly like base data created over the API: ids from
the same counters, accounts with parent / level / leaf flag derived from their numbers, dimensions
wired through BD_FLEXITEMPROPERTY, creator and auditor set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from yecai.sandbox.kingdee import allocation
from yecai.sandbox.kingdee.drafts import SaveContext, SaveOptions
from yecai.sandbox.kingdee.forms import FormRegistry, standard_dimension_number
from yecai.sandbox.kingdee.operations import save_one
from yecai.sandbox.kingdee.settings import SandboxSettings
from yecai.sandbox.kingdee.store import Store

SEED_FILE = Path(__file__).with_name("seed.yaml")
REQUIRED_INPUT = "1"


class SeedError(ValueError):
    """The seed describes something the sandbox refuses (a bad number, a missing parent, …)."""


def load_seed(path: Path | None = None) -> dict[str, Any]:
    """The seed as plain data, with `closed_periods` normalised to `{book, year, period}` items."""
    seed = yaml.safe_load((path or SEED_FILE).read_text(encoding="utf-8"))
    if not isinstance(seed, dict) or "data_centre" not in seed:
        raise SeedError(f"{path or SEED_FILE}: not a sandbox.kingdee seed")
    seed["closed_periods"] = [normalise_period(item) for item in seed.get("closed_periods") or []]
    return seed


def normalise_period(item: Any) -> dict[str, Any]:
    """`"2025-01"` (every book) or `{book: "001", year: 2025, period: 1}`."""
    if isinstance(item, str):
        year, _, period = item.partition("-")
        if not (year.isdigit() and period.isdigit()):
            raise SeedError(f"closed period {item!r}: expected YYYY-MM")
        return {"book": None, "year": int(year), "period": int(period)}
    if isinstance(item, dict) and {"year", "period"} <= item.keys():
        book = item.get("book")
        return {
            "book": None if book is None else str(book),
            "year": int(item["year"]),
            "period": int(item["period"]),
        }
    raise SeedError(f"closed period {item!r}: expected 'YYYY-MM' or {{book, year, period}}")


def _plan(seed: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(form id, Model) pairs in dependency order."""
    centre = seed["data_centre"]
    org = {"FNumber": str(centre["org_num"])}
    user = {
        "FUserAccount": str(centre["user_name"]),
        "FName": str(centre.get("user_display_name", centre["user_name"])),
    }
    steps: list[tuple[str, dict[str, Any]]] = [("SEC_User", user)]
    for item in seed.get("organisations") or []:
        steps.append(("ORG_Organizations", {"FNumber": str(item["number"]), "FName": item["name"]}))
    for item in seed.get("currencies") or []:
        model = {"FNumber": item["number"], "FName": item["name"], "FAmountDigits": item.get("precision", 2)}
        if item.get("code"):
            model["FCode"] = item["code"]
        steps.append(("BD_Currency", model))
    for item in seed.get("rate_types") or []:
        steps.append(("BD_RateType", {"FNumber": item["number"], "FName": item["name"]}))
    for item in seed.get("voucher_groups") or []:
        steps.append(("BD_VOUCHERGROUP", {"FNumber": item["number"], "FName": item["name"]}))
    tables = account_tables(seed)
    for table in tables:
        model = {"FNumber": table["number"], "FName": table["name"], "FStandard": table["standard"]}
        steps.append(("BD_ACCOUNTTABLE", model))
    for item in seed.get("account_books") or []:
        model = {
            "FNumber": str(item["number"]),
            "FName": item["name"],
            "FACCTTABLEID": {"FNumber": str(item.get("account_table") or tables[0]["number"])},
            "FACCTORGID": {"FNumber": str(item.get("org", org["FNumber"]))},
            "FCURRENCYID": {"FNumber": item["currency"]},
            "FSTARTYEAR": item.get("start_year", 0),
            "FSTARTPERIOD": item.get("start_period", 0),
        }
        steps.append(("BD_AccountBook", model))
    for item in seed.get("bill_types") or []:
        model = {
            "FNumber": item["number"],
            "FName": item["name"],
            "FBillFormID": item["form"],
            "FIsDefault": bool(item.get("default", False)),
        }
        steps.append(("BOS_BillType", model))
    for item in seed.get("assistant_categories") or []:
        steps.append(("BOS_ASSISTANTDATA", {"FNumber": item["number"], "FName": item["name"]}))
    for key, item in (seed.get("dimensions") or {}).items():
        model = {
            "FNumber": standard_dimension_number(key),
            "FName": item["name"],
            "FFlexNumber": key,
            "FValueSource": item["form"],
        }
        steps.append(("BD_FLEXITEMPROPERTY", model))
    for section, form_id in (
        ("departments", "BD_Department"),
        ("suppliers", "BD_Supplier"),
        ("customers", "BD_Customer"),
        ("expense_items", "BD_Expense"),
        ("settle_types", "BD_SETTLETYPE"),
        ("pay_purposes", "CN_RECPAYPURPOSE"),
    ):
        for item in seed.get(section) or []:
            steps.append((form_id, {"FNumber": item["number"], "FName": item["name"]}))
    for item in seed.get("employees") or []:
        model = {
            "FNumber": item["number"],
            "FName": item["name"],
            "FStaffNumber": item.get("staff_number", item["number"]),
        }
        steps.append(("BD_Empinfo", model))
    for item in seed.get("bank_accounts") or []:
        model = {"FNumber": str(item["number"]), "FName": item["name"], "FOpenBankName": item.get("bank", "")}
        steps.append(("CN_BANKACNT", model))
    for item in seed.get("assistant_data") or []:
        model = {"FId": {"FNumber": item["category"]}, "FNumber": item["number"], "FDataValue": item["value"]}
        steps.append(("BOS_ASSISTANTDATA_DETAIL", model))
    dims_of = {
        table["number"]: {str(a["number"]): a.get("dims") or [] for a in table["accounts"]}
        for table in tables
    }
    for table in tables:
        inherited = dims_of.get(str(table.get("dims_from") or ""), {})
        for item in sorted(
            table["accounts"], key=lambda a: [part.zfill(8) for part in str(a["number"]).split(".")]
        ):
            number = str(item["number"])
            dims = item["dims"] if "dims" in item else inherited.get(number, [])
            rows = [
                {
                    "FFlEXITEMPROPERTYID": {"FNumber": standard_dimension_number(key)},
                    "FInputType": REQUIRED_INPUT,
                }
                for key in dims or []
            ]
            model = {
                "FNumber": number,
                "FName": item["name"],
                "FDC": item.get("dc", 1),
                "FAcctTblId": {"FNumber": table["number"]},
                "FEntity": rows,
            }
            steps.append(("BD_Account", model))
    return steps


DEFAULT_TABLE = {"number": "KMB001", "name": "企业会计准则科目表", "standard": "cas"}


def account_tables(seed: dict[str, Any]) -> list[dict[str, Any]]:
    """The seed's 科目表, each with its accounts: the top-level `accounts` belong to the first one
    (a seed naming no table gets one CAS chart, as before charts existed)."""
    tables = [dict(item) for item in seed.get("account_tables") or [DEFAULT_TABLE]]
    for position, table in enumerate(tables):
        table["number"] = str(table["number"])
        table.setdefault("standard", "cas")
        own = table.get("accounts")
        table["accounts"] = list(
            own if own is not None else (seed.get("accounts") or []) if position == 0 else []
        )
    return tables


# Shared base data the seed allocates to the organisations of `allocate_to`: the 往来 a branch's
# vouchers name in their 供应商 / 客户 dimensions, and the 费用项目 of its bills.
ALLOCATED_SECTIONS = (
    ("suppliers", "BD_Supplier"),
    ("customers", "BD_Customer"),
    ("expense_items", "BD_Expense"),
)


def apply_seed(store: Store, registry: FormRegistry, settings: SandboxSettings, seed: dict[str, Any]) -> None:
    """Write the seed into an empty store; SeedError if any item is refused."""
    centre = seed["data_centre"]
    with store.transaction() as tx:
        tx.set_meta("seed", seed)
        tx.set_meta("acct_id", str(centre["acct_id"]))
        tx.set_meta("org_num", str(centre["org_num"]))
        tx.set_meta("closed_periods", seed.get("closed_periods") or [])
    ctx = SaveContext(store, registry, settings, SaveOptions(auto_audit=True), settings.clock())
    for form_id, model in _plan(seed):
        form = registry.get(form_id)
        if form is None:
            raise SeedError(f"unknown form {form_id}")
        record, problems = save_one(ctx, form, model, 0)
        if record is None or problems:
            details = "; ".join(p.message for p in problems)
            raise SeedError(f"{form_id} {model.get('FNumber')}: {details}")
        if form_id == "SEC_User" and model["FUserAccount"] == str(centre["user_name"]):
            ctx.user, ctx.user_name = record.id, model["FUserAccount"]
    _allocate_seeded(ctx, seed)


def _allocate_seeded(ctx: SaveContext, seed: dict[str, Any]) -> None:
    """Allocate (分配) the seeded shared base data to the `allocate_to` organisations, audited."""
    orgs = [str(number) for number in seed.get("allocate_to") or []]
    if not orgs:
        return
    org_form = ctx.form("ORG_Organizations")
    org_ids = []
    for number in orgs:
        org_id = ctx.store.find_number(org_form, number)
        if org_id is None:
            raise SeedError(f"allocate_to: no organisation {number}")
        org_ids.append(str(org_id))
    for section, form_id in ALLOCATED_SECTIONS:
        form = ctx.form(form_id)
        ids = [str(ctx.store.find_number(form, str(item["number"]))) for item in seed.get(section) or []]
        if not ids:
            continue
        answer = allocation.allocate(
            ctx, form, {"PkIds": ids, "TOrgIds": org_ids, "IsAutoSubmitAndAudit": True}, cancel=False
        )
        status = answer["Result"]["ResponseStatus"]
        if not status.get("IsSuccess"):
            raise SeedError(f"{form_id}: allocation refused: {status.get('Errors')}")
