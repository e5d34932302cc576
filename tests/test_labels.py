"""Every coded value a person may meet has words in both languages, in yecai.labels (issue 14, item 4).

Two ways a code could slip through, both closed here. A Python enum: every Enum class of yecai is
found by reading the source, and must be either named here with the vocabulary that words it
(then each of its values needs a Chinese and an English label) or named as internal, with why. A
string set: rule sets, forms, account roles, documents, streams, difference types, risks, alert
events and the like are read from the code that defines them; statuses, run kinds, job outcomes,
audit actions and unmapped kinds, which the code writes as literals, are found by reading the
source for those literals. A new value anywhere without words fails one of these tests.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import io
import re
import typing
from collections.abc import Iterable
from enum import Enum
from importlib import import_module
from pathlib import Path

import pytest
import yaml
from python_calamine import CalamineWorkbook

from yecai import labels
from yecai.alerts.messages import SEVERITIES
from yecai.connectors.registry import kinds as connector_kinds
from yecai.domain.documents import DOCUMENT_TYPES
from yecai.errors import Context
from yecai.kingdee.keys import BILL_NO, SUMMARY
from yecai.mapping import registry
from yecai.mapping.rules import DEFAULT_FILES, Event, default_rule_set
from yecai.observability.events import EVENTS
from yecai.reconcile.classify import KINDS as DIFFERENCE_KINDS
from yecai.reconcile.service import DifferenceView, RunView
from yecai.reconcile.sides import KINGDEE_STATUSES
from yecai.reconcile.workbook import workbook as recon_workbook
from yecai.reports.excel import monthly_workbook
from yecai.reports.figures import Figures
from yecai.reports.html import monthly_html
from yecai.reports.monthly import RISK_KINDS, MonthlyOptions, Risk, monthly_report
from yecai.reports.pnl import CHART_WORDS
from yecai.services.dashboard import GROUPS
from yecai.sync.states import STEPS
from yecai.web.console.configure import SETTINGS
from yecai.workspace import AlertConnection, Schedule

PACKAGE = Path(__file__).resolve().parent.parent / "yecai"
CJK = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"[a-z][a-z0-9_]*")

# Every enum of yecai, by its dotted name: the vocabulary that words its values, or why it has none.
USER_FACING: dict[str, str] = {
    "yecai.domain.posting_states.PostingState": "state",
    "yecai.domain.documents.CostCategory": "category",
    "yecai.domain.documents.AccountingStandard": "accounting_standard",
    "yecai.domain.documents.ContractKind": "contract_kind",
    "yecai.domain.documents.VatMethod": "vat_method",
    "yecai.domain.documents.InvoiceDirection": "direction",
    "yecai.domain.documents.InvoiceType": "invoice_type",
    "yecai.domain.documents.ReceiptKind": "receipt_kind",
    "yecai.domain.documents.PaymentStatus": "status",
    "yecai.errors.Action": "action",
    "yecai.errors.Fault": "fault",
    "yecai.auth.roles.Role": "role",
    "yecai.auth.roles.Permission": "permission",
    "yecai.mapping.tables.UnmappedPolicy": "policy",
    "yecai.reconcile.matching.Mismatch": "mismatch",
    "yecai.jobs.calendar.Coverage": "coverage",
    "yecai.cli.import_file.ImportKind": "import_kind",
    "yecai.reports.latest.PeriodBasis": "period_basis",
}
INTERNAL: dict[str, str] = {
    # the published BOQ standards are shown by their own names (GB50500-2013, GB/T50500-2024)
    "yecai.domain.documents.BoqEdition": "proper names, shown as they are",
    # sign-in outcomes reach people as LOGIN_MESSAGES, whole sentences in both languages
    "yecai.auth.users.LoginOutcome": "shown as LOGIN_MESSAGES sentences",
    # `yecai db check` / doctor say where the schema stands in whole sentences (SchemaReport.zh / .en)
    "yecai.services.schema.SchemaState": "shown as SchemaReport.zh / .en sentences",
    # the column types of the file importer's layouts: configuration read by code, never shown
    "yecai.files.columns.FieldType": "layout configuration, never shown",
    # rule-set options an integrator writes in YAML; the YAML keys are the documented interface
    "yecai.mapping.rules.Aggregation": "rule-set YAML option",
    "yecai.mapping.rules.Event": "rule-set YAML option (a rule set is shown by its name)",
    "yecai.mapping.rules.PeriodPolicy": "rule-set YAML option",
    "yecai.mapping.events.invoices.InvoiceMode": "rule-set YAML option",
    "yecai.mapping.events.invoices.Certification": "rule-set YAML option",
    "yecai.mapping.events.invoices.FullDebit": "rule-set YAML option",
    "yecai.mapping.events.payments.PayDate": "rule-set YAML option",
    "yecai.mapping.events.revenue.EstimateSource": "rule-set YAML option",
    "yecai.mapping.events.valuation.OutputVat": "rule-set YAML option",
    "yecai.mapping.events.valuation.Uninvoiced": "rule-set YAML option",
    "yecai.mapping.events.valuation.RetentionPractice": "rule-set YAML option",
    "yecai.mapping.events.allocation.AllocationBase": "rule-set YAML option",
}


@functools.cache
def _modules() -> tuple[tuple[str, ast.Module], ...]:
    """(dotted name, tree) of every module of yecai except the sandboxes, which are product of their
    own: the reference systems' vocabularies are theirs, not yecai's console's."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sandbox" in path.relative_to(PACKAGE).parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, ast.parse(path.read_text(encoding="utf-8"))))
    return tuple(found)


def enum_classes() -> list[str]:
    """Dotted names of the classes that derive from Enum, StrEnum or IntEnum in the source."""
    found = []
    for module, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
                if bases & {"Enum", "StrEnum", "IntEnum"}:
                    found.append(f"{module}.{node.name}")
    return found


def missing(prefix: str, codes: Iterable[object]) -> list[str]:
    """The codes of `prefix` with no Chinese or no English words."""
    gaps = []
    for code in codes:
        words = labels.pair(prefix, code)
        if words is None or not words[0].strip() or not words[1].strip():
            gaps.append(f"{prefix}.{code.value if isinstance(code, Enum) else code}")
    return gaps


# --- enums ---------------------------------------------------------------------------------------


def test_every_enum_is_either_worded_or_named_internal() -> None:
    found = set(enum_classes())
    unclassified = sorted(found - USER_FACING.keys() - INTERNAL.keys())
    assert unclassified == [], (
        f"new enums: add their words to yecai.labels and name them here: {unclassified}"
    )
    gone = sorted((USER_FACING.keys() | INTERNAL.keys()) - found)
    assert gone == [], f"named here but no longer in the code: {gone}"


@pytest.mark.parametrize("dotted", sorted(USER_FACING))
def test_each_value_of_a_user_facing_enum_has_words(dotted: str) -> None:
    module, _, name = dotted.rpartition(".")
    enum = getattr(import_module(module), name)
    assert missing(USER_FACING[dotted], enum) == []


# --- string sets the code defines ----------------------------------------------------------------


def _families(events: Iterable[str]) -> set[str]:
    return {event.split(".", 1)[0] for event in events}


def _literal_args(annotation: object) -> tuple[str, ...]:
    return tuple(str(a) for a in typing.get_args(annotation))


def _streams() -> set[str]:
    connectors = PACKAGE / "connectors"
    found: set[str] = set()
    for path in connectors.glob("*/connector.yaml"):
        found |= set((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("streams", {}))
    return found


STRING_SETS: dict[str, tuple[str, object]] = {
    "rule sets": ("rule_set", lambda: DEFAULT_FILES),
    "their Kingdee forms": ("form", lambda: {default_rule_set(name).form_id for name in DEFAULT_FILES}),
    "account roles": ("account_role", lambda: {r for e in Event for r in registry.spec_of(e).roles}),
    "documents": ("doc", lambda: DOCUMENT_TYPES),
    "streams": ("stream", _streams),
    "difference types": ("recon", lambda: DIFFERENCE_KINDS),
    "risks": ("risk", lambda: RISK_KINDS),
    "alert events": ("alert_event", lambda: set(EVENTS) | _families(EVENTS)),
    "severities": ("severity", lambda: SEVERITIES),
    "alert platforms": ("channel", lambda: _literal_args(AlertConnection.model_fields["channel"].annotation)),
    "alert languages": (
        "alert_language",
        lambda: _literal_args(AlertConnection.model_fields["language"].annotation),
    ),
    "holiday rules": ("holidays", lambda: _literal_args(Schedule.model_fields["holidays"].annotation)),
    "connection kinds": ("kind", lambda: {"source", "kingdee", "alert", *connector_kinds()}),
    "failure groups": ("group", lambda: GROUPS),
    "failure context": ("context", lambda: [name for name, _ in Context()._items()]),
    "Kingdee document status": ("kingdee_status", lambda: (*KINGDEE_STATUSES, "Z")),
    "posting steps": ("step", lambda: STEPS),
    "key fields": ("key_field", lambda: (SUMMARY, BILL_NO)),
    "mapping defaults": ("map_setting", lambda: SETTINGS),
    "project_default values": ("policy", lambda: ("same_code", "none", "report")),
    "console languages": ("language", lambda: ("zh", "en")),
}


@pytest.mark.parametrize("what", sorted(STRING_SETS))
def test_each_value_of_a_string_set_has_words(what: str) -> None:
    prefix, values = STRING_SETS[what]
    codes = values()  # type: ignore[operator]
    assert codes, f"no {what} found: the test reads the wrong place"
    assert missing(prefix, codes) == []


# --- literals the code writes --------------------------------------------------------------------


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _strings(node: ast.expr | None, constants: dict[str, str]) -> set[str]:
    """The strings an expression may be: a literal, a module constant, either side of `a if c else b`,
    or the fixed part of an f-string before its first value (`f"sync:{job}"` → `sync:`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in constants:
        return {constants[node.id]}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) | _strings(node.orelse, constants)
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return {str(node.values[0].value)}
    return set()


def literals(*, keywords: Iterable[str] = (), calls: Iterable[str] = (), positional: dict[str, int] | None = None,
             attributes: Iterable[str] = (), names: Iterable[str] = (), defaults: dict[str, str] | None = None,
             ) -> set[str]:  # fmt: skip
    """String literals the source writes: as keyword `k=` (to any call, or only to `calls`), as the
    n-th argument of a call, assigned to `x.attr` or to a plain name, or as a parameter's default."""
    keywords, calls, attributes, names = set(keywords), set(calls), set(attributes), set(names)
    found: set[str] = set()
    for _, tree in _modules():
        constants = {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (not calls or _name(node.func) in calls):
                for keyword in node.keywords:
                    if keyword.arg in keywords:
                        found |= _strings(keyword.value, constants)
            if isinstance(node, ast.Call) and positional and _name(node.func) in positional:
                index = positional[_name(node.func)]
                if len(node.args) > index:
                    found |= _strings(node.args[index], constants)
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and target.attr in attributes:
                        found |= _strings(node.value, constants)
                    if isinstance(target, ast.Name) and target.id in names:
                        found |= _strings(node.value, constants)
            if isinstance(node, ast.FunctionDef) and defaults and node.name in defaults:
                args = node.args.args + node.args.kwonlyargs
                values = [None] * (len(node.args.args) - len(node.args.defaults)) + list(node.args.defaults)
                values += list(node.args.kw_defaults)
                for arg, default in zip(args, values, strict=True):
                    if arg.arg == defaults[node.name]:
                        found |= _strings(default, constants)
    return found


def _run_kinds() -> set[str]:
    written = literals(
        keywords=("kind",), calls=("start_run", "run_sync_job", "Run"), defaults={"run_sync_job": "kind"}
    )
    written |= literals(names=("KIND",))  # reconcile's constant, handed to start_run by name
    return {kind.rstrip(":") for kind in written}  # `sync:` + the job's name


def _statuses() -> set[str]:
    written = literals(
        keywords=("status", "outcome", "state"),
        attributes=("status",),
        names=("status",),
        positional={"Enqueued": 2, "_resolve": 2},
    )
    return {value for value in written if CODE.fullmatch(value)}  # not a sentence put in a status


LITERALS: dict[str, tuple[str, object]] = {
    "run kinds": ("run_kind", _run_kinds),
    "statuses and outcomes": ("state", lambda: _statuses()),
    "audit actions": ("audit_action", lambda: literals(keywords=("action",))),
    "audit targets": ("audit_target", lambda: literals(keywords=("target_type",))),
    "ways in": ("via", lambda: literals(keywords=("via",)) | {"console"}),
    "unmapped kinds": ("unmapped", lambda: literals(positional={"miss": 0})),
}


@pytest.mark.parametrize("what", sorted(LITERALS))
def test_each_literal_the_code_writes_has_words(what: str) -> None:
    prefix, values = LITERALS[what]
    codes = values()  # type: ignore[operator]
    assert codes, f"no {what} found: the test reads the wrong place"
    assert missing(prefix, codes) == []


def test_the_literal_finder_finds_what_it_must() -> None:
    # the checks above are only as good as the finder: the values the issue named must be found
    assert {"reconcile", "cost_sync", "sync", "demo", "file_import"} <= _run_kinds()
    statuses = LITERALS["statuses and outcomes"][1]()  # type: ignore[operator]
    assert {
        "succeeded",
        "attention",
        "failed",
        "dead",
        "paused",
        "queued",
        "duplicate",
        "replayed",
    } <= statuses
    assert "user.create" in LITERALS["audit actions"][1]()  # type: ignore[operator]


# --- the words themselves -------------------------------------------------------------------------


def test_chinese_words_are_chinese_and_english_words_are_not() -> None:
    """A label is no better than the code if it is the code again, or in the other language."""
    bad = []
    for prefix, table in labels.VOCABULARY.items():
        for code, (zh, en) in table.items():
            if prefix in ("language", "via") or code in ("api",):
                continue  # language names stand in their own language; "API" is an API everywhere
            if not CJK.search(zh):
                bad.append(f"{prefix}.{code}: zh {zh!r}")
            if CJK.search(en):
                bad.append(f"{prefix}.{code}: en {en!r}")
            if "_" in en or "_" in zh:
                bad.append(f"{prefix}.{code}: a code in its words")
    assert bad == []


def test_qualified_run_kinds_keep_their_job_name() -> None:
    assert labels.label("run_kind", "sync:books", "zh") == "同步 books"
    assert labels.label("run_kind", "sync:books", "en") == "sync books"
    assert labels.both("risk", "negative_margin") == "毛利为负 negative margin"
    assert labels.label("rule_set", "my_own_rules", "zh") == "my_own_rules"  # a name a user chose


def test_chart_words_are_in_both_languages() -> None:
    for key, (zh, en) in CHART_WORDS.items():
        assert CJK.search(zh), key
        assert not CJK.search(en), key


# --- the workbooks ------------------------------------------------------------------------------


def _cells(data: bytes, sheet: str) -> list[list[object]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet).to_python()


def _no_bare_code(rows: list[list[object]]) -> list[str]:
    """Cells that are a code and nothing else, or hold a snake_case code at all."""
    codes = {code for table in labels.VOCABULARY.values() for code in table}
    return [
        str(cell)
        for row in rows
        for cell in row
        if isinstance(cell, str) and (cell.strip() in codes or any("_" in c and c in cell for c in codes))
    ]


def test_the_monthly_workbook_names_each_risk() -> None:
    report = monthly_report(Figures("2026-10", "books", "kingdee", "pm"), MonthlyOptions())
    report.risks = [Risk(kind, "XM2026001", "一号楼", "说明", "description") for kind in RISK_KINDS]
    rows = _cells(monthly_workbook(report), "风险 Risks")
    kinds = [row[0] for row in rows[3:]]
    assert kinds == [labels.both("risk", kind) for kind in RISK_KINDS]
    assert kinds[0] == "毛利为负 negative margin"
    assert _no_bare_code(rows) == []
    assert "毛利为负 negative margin" in monthly_html(report)


def test_the_reconciliation_workbook_names_status_and_types() -> None:
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    counts = dict.fromkeys(DIFFERENCE_KINDS, 1)
    run = RunView(7, "succeeded", "kd-prod", "books", "2026-10", now, now, counts, None, {})
    differences = [
        DifferenceView(
            7, kind, "XM2026001", "5401.01", "2026-10", None, None, None, None, None, None, [], "说明", "why"
        )
        for kind in DIFFERENCE_KINDS
    ]
    data = recon_workbook(run, differences)
    summary = _cells(data, "汇总 Summary")
    facts = {row[0]: row[1] for row in summary[1:]}
    assert facts["状态 status"] == "成功 succeeded"
    assert _no_bare_code(summary) == []
    rows = _cells(data, "差异 Differences")
    assert [row[0] for row in rows[1:]] == [labels.both("recon", kind) for kind in DIFFERENCE_KINDS]
    assert _no_bare_code(rows) == []
