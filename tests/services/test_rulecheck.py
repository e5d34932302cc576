"""`yecai rules check`: rule sets and mappings against the sandbox's live chart of accounts.

The built-in rule sets must fit the sandbox chart exactly; each kind of misfit (missing, parent,
forbidden account; a required 核算维度 the rule does not fill; a dimension the account lacks) is
reported bilingually; unmapped values of pulled documents are listed; the CLI exits 1 on any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.support.spreadsheets import GOOD, write_csv
from yecai.cli.main import app
from yecai.demo import identity_of
from yecai.domain.documents import AccountingStandard, CostCategory
from yecai.files import import_file
from yecai.kingdee.client import KingdeeClient
from yecai.mapping.rules import CategoryRule, default_mapping, default_rule_sets, load_mapping
from yecai.secrets import SecretBox, load_key
from yecai.services.rulecheck import check_rules, property_number, standards_in_use
from yecai.store.db import open_store


def client_of(credentials: dict[str, Any]) -> KingdeeClient:
    return KingdeeClient(str(credentials["server_url"]), identity_of(credentials), connection="kd")


def test_flex_keys_name_their_property() -> None:
    assert property_number("FFLEX4") == "HSWD01_SYS"
    assert property_number("fflex6") == "HSWD03_SYS"
    assert property_number("FFLEX13") == "HSWD10_SYS"
    assert property_number("FF100001") == "FF100001"


def test_builtin_rule_sets_fit_the_sandbox_chart(shared_kingdee: dict[str, Any]) -> None:
    with client_of(shared_kingdee) as client:
        report = check_rules(client, list(default_rule_sets().values()), default_mapping())
    assert report.problems == []
    assert report.clean
    assert report.accounts_checked >= 20  # every role of ten rule sets, merged


def test_every_misfit_is_named(shared_kingdee: dict[str, Any]) -> None:
    cost = default_rule_sets()["cost_actuals"]
    categories = dict(cost.categories)
    # 9999.99 missing; 5401 is a parent account; 1123 needs 供应商 (FFLEX4) and has no 项目 dimension.
    categories[CostCategory.LABOUR] = CategoryRule(debit="9999.99", credit="2202.01")
    categories[CostCategory.MATERIAL] = CategoryRule(debit="5401", credit="2202.01")
    categories[CostCategory.MACHINERY] = CategoryRule(debit="1123", credit="2202.01")
    broken = cost.model_copy(update={"name": "broken", "categories": categories})
    with client_of(shared_kingdee) as client:
        client.forbid("BD_Account", ["2202.01"])
        try:
            report = check_rules(client, [broken], default_mapping())
        finally:
            client.enable("BD_Account", ["2202.01"])
    by_account: dict[str, list[str]] = {}
    for problem in report.problems:
        assert problem.rule_set == "broken"
        by_account.setdefault(problem.account, []).append(problem.en)
        assert problem.zh  # Chinese first, English beside it
        assert problem.en
    assert any("does not exist" in m for m in by_account["9999.99"])
    assert any("not a detail" in m for m in by_account["5401"])
    assert any("forbidden" in m for m in by_account["2202.01"])
    assert any("requires dimension HSWD01_SYS" in m for m in by_account["1123"])
    assert any("does not carry dimension FF100001" in m for m in by_account["1123"])
    assert not report.clean


def test_only_standards_in_use_are_checked(shared_kingdee: dict[str, Any]) -> None:
    mapping = default_mapping()
    assert standards_in_use(mapping) == {AccountingStandard.CAS}
    small = mapping.model_copy(update={"accounting_standard": AccountingStandard.SMALL})
    with client_of(shared_kingdee) as client:
        report = check_rules(client, list(default_rule_sets().values()), small)
    # The sandbox book is a CAS chart: 小企业会计准则 numbers (5001 …) are reported missing there.
    assert any("does not exist" in p.en for p in report.problems)


@pytest.fixture
def rulecheck_workspace(
    tmp_path: Path, shared_kingdee: dict[str, Any], store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = tmp_path / "yecai.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "connections": {
                    "pm": {"kind": "source", "connector": "pm_sandbox", "base_url": "http://127.0.0.1:9"},
                    "kd": {
                        "kind": "kingdee",
                        "server_url": shared_kingdee["server_url"],
                        "acct_id": shared_kingdee["acct_id"],
                        "user_name": shared_kingdee["user_name"],
                        "app_id": shared_kingdee["app_id"],
                        "app_secret": "${KD_SECRET}",
                        "lcid": shared_kingdee["lcid"],
                        "org_num": str(shared_kingdee["org_num"]),
                    },
                },
                "syncs": {"books": {"source": "pm", "target": "kd", "rule_sets": ["cost_actuals"]}},
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("YECAI_WORKSPACE", str(path))
    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("YECAI_DATABASE_URL", store_url)
    store = open_store(store_url)
    SecretBox(store, load_key(tmp_path / "work")).set("kd", "KD_SECRET", str(shared_kingdee["app_secret"]))
    store.close()
    return path


def test_cli_passes_then_lists_unmapped_values(rulecheck_workspace: Path, store_url: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["rules", "check"], env={"COLUMNS": "200"})
    assert ok.exit_code == 0, ok.output
    assert "rules and mappings fit Kingdee" in ok.output

    # Pulled cost records whose projects the mapping (project_default: report) does not know.
    (rulecheck_workspace.parent / "strict.yaml").write_text("project_default: report\n", encoding="utf-8")
    space = yaml.safe_load(rulecheck_workspace.read_text(encoding="utf-8"))
    space["syncs"]["books"]["mapping"] = "strict.yaml"
    rulecheck_workspace.write_text(yaml.safe_dump(space, allow_unicode=True), encoding="utf-8")
    header, rows, _ = GOOD["cost"]
    store = open_store(store_url)
    try:
        result = import_file(
            store,
            write_csv(rulecheck_workspace.parent / "cost.csv", [header, *rows]),
            kind="cost",
            connection="pm",
        )
    finally:
        store.close()
    assert result.counts.imported == len(rows)
    bad = runner.invoke(app, ["rules", "check", "--job", "books"], env={"COLUMNS": "200"})
    assert bad.exit_code == 1, bad.output
    # two projects, and the suppliers the payables must carry (the strict table maps none)
    assert "未映射 unmapped 5" in bad.output
    assert "供应商 马钢 没有映射" in bad.output
    assert "项目 XM2026001 没有映射" in bad.output
    assert "project XM2026002 is not mapped" in bad.output


def test_cli_names_an_unknown_job(rulecheck_workspace: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "check", "--job", "nope"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "no sync job nope" in result.output


def test_mapping_tables_round_trip_through_excel(tmp_path: Path) -> None:
    source = tmp_path / "mine.yaml"
    source.write_text(
        "project_default: report\nprojects:\n  XM2026001: {number: XM01, department: BM01}\n"
        "suppliers: {马钢: GYS9001}\nsupplier_default: create\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    exported = runner.invoke(app, ["mapping", "export", str(tmp_path / "m.xlsx"), "--from", str(source)])
    assert exported.exit_code == 0, exported.output
    imported = runner.invoke(
        app, ["mapping", "import", str(tmp_path / "m.xlsx"), "--out", str(tmp_path / "back.yaml")]
    )
    assert imported.exit_code == 0, imported.output
    assert load_mapping(tmp_path / "back.yaml") == load_mapping(source)

    broken = runner.invoke(app, ["mapping", "import", str(source), "--out", str(tmp_path / "x.yaml")])
    assert broken.exit_code == 1
    assert not (tmp_path / "x.yaml").exists()
