"""The words for coded values, Chinese and English, in one table: what people read instead of codes.

Every value a person may meet — a posting state, a run kind, a rule set, a cost category, a
Kingdee document status, a permission, a risk kind, a difference type, an alert event — is stored
and exchanged as a code (`cost_actuals`, `GL_VOUCHER`, `A`); this module names each in both
languages. The console (`label(prefix, value)`), the Excel writers and the CLI (`both(…)`: "中文
English") all read this one table, so a page, a workbook and a terminal never disagree.
`tests/test_labels.py` fails when a user-facing value has no entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum

from yecai.domain.documents import CATEGORY_NAMES_ZH, CostCategory

Words = tuple[str, str]  # (中文, English)

# The statuses of everything that has one — postings, runs, jobs and their leases, dead letters,
# alert deliveries, staged records — share one vocabulary: the same word means the same thing.
_STATES: dict[str, Words] = {
    # postings (yecai.domain.posting_states.PostingState)
    "awaiting_approval": ("待审批", "awaiting approval"),
    "planned": ("已计划", "planned"),
    "sending": ("发送中", "sending"),
    "sent": ("已发送", "sent"),
    "uncertain": ("结果未定", "uncertain"),
    "saved": ("已保存", "saved"),
    "posted": ("已过账", "posted"),
    "failed": ("失败", "failed"),
    "dead": ("死信", "dead"),
    "held": ("暂挂", "held"),
    "skipped": ("已跳过", "skipped"),
    "reversed": ("已红字冲销", "reversed"),
    "superseded": ("已被更正取代", "superseded"),
    "deleted": ("已删除", "deleted"),
    # runs, imports and job outcomes
    "running": ("运行中", "running"),
    "pending": ("进行中", "pending"),  # a restore's lookups by key still under way
    "importing": ("导入中", "importing"),
    "succeeded": ("成功", "succeeded"),
    "attention": ("需关注", "needs attention"),
    "interrupted": ("已中断", "interrupted"),
    "retrying": ("等待重试", "retrying"),
    "paused": ("已暂停", "paused"),
    "lost": ("执行进程失联", "worker lost"),
    # job leases and what "run now" answers
    "queued": ("已排队", "queued"),
    "taken_over": ("已接管并排队", "taken over"),
    "already_queued": ("已在队列中", "already queued"),
    "already_running": ("正在运行", "already running"),
    # dead letters
    "replayed": ("已重放", "replayed"),
    # alert deliveries
    "duplicate": ("重复已抑制", "duplicate"),
    "rate_limited": ("超频已抑制", "rate limited"),
    # staged records
    "staged": ("已暂存", "staged"),
    "valid": ("有效", "valid"),
    "invalid": ("无效", "invalid"),
    # yecai doctor's findings and overall status
    "ok": ("正常", "ok"),
    "warning": ("警告", "warning"),
    "error": ("错误", "error"),
}

# cost categories in English; in Chinese they are the words vouchers carry in their 摘要 (domain)
_CATEGORY_EN: dict[CostCategory, str] = {
    CostCategory.LABOUR: "labour",
    CostCategory.MATERIAL: "materials",
    CostCategory.MACHINERY: "machinery",
    CostCategory.SUBCONTRACT: "subcontracting",
    CostCategory.OTHER_DIRECT: "other direct costs",
    CostCategory.INDIRECT: "indirect costs",
}

VOCABULARY: dict[str, dict[str, Words]] = {
    "state": _STATES,
    # a run's kind (runs.kind); a sync job's runs are `sync:<job>`: the job's name follows the word
    "run_kind": {
        "sync": ("同步", "sync"),
        # one worker's share of a queued sync's sending (yecai/jobs/parts.py)
        "sync-part": ("同步分片", "sync share"),
        # open while a fanned-out job plans beside its shares (more postings may come)
        "sync-plan": ("同步分批计划", "sync planning in parts"),
        "cost_sync": ("成本同步", "cost sync"),
        "demo": ("演示同步", "demo sync"),
        "reconcile": ("对账", "reconciliation"),
        "file_import": ("文件导入", "file import"),
        "report": ("报告", "report"),
        # a restore's marker per Kingdee connection (yecai/sync/restored.py)
        "restore": ("恢复备份后按键核对", "restore: look up by key"),
    },
    # what to do next, by failure group (yecai.services.dashboard.GROUPS)
    "group": {
        "configuration": ("需修正配置", "fix configuration"),
        "data": ("需修正数据", "fix data"),
        "retry": ("等待重试", "waiting to retry"),
    },
    # yecai.errors.Action and Fault
    "action": {
        "retry": ("等待重试", "retry"),
        "fail": ("需人工处理", "fix and replay"),
        "skip": ("跳过", "skip"),
        "uncertain": ("先查金蝶", "look up first"),
    },
    "fault": {
        "configuration": ("配置", "configuration"),
        "data": ("数据", "data"),
        "remote": ("对方系统", "remote system"),
        "transient": ("临时故障", "transient"),
    },
    # a connection's kind: the two of the workspace and the source kinds of the connector registry
    "kind": {
        "source": ("源系统", "source"),
        "rest": ("源系统（REST 拉取）", "source (REST pull)"),
        "webhook": ("源系统（Webhook 推送）", "source (webhook push)"),
        "file": ("源系统（文件导入）", "source (file import)"),
        "kingdee": ("金蝶数据中心", "Kingdee"),
        "alert": ("告警通道", "alert channel"),
    },
    # canonical documents (yecai.domain.documents.DOCUMENT_TYPES)
    "doc": {
        "project": ("项目", "project"),
        "boq_item": ("清单项", "BOQ item"),
        "budget_line": ("预算行", "budget line"),
        "contract": ("合同", "contract"),
        "cost_record": ("成本记录", "cost record"),
        "progress_report": ("进度报告", "progress report"),
        "payment_request": ("付款申请", "payment request"),
        "invoice": ("发票", "invoice"),
        "receipt": ("收款", "receipt"),
        "opening_balance": ("期初余额", "opening balance"),
        "worker": ("工人", "worker"),
        "attendance": ("考勤", "attendance"),
    },
    # a source's streams (connector YAML), as dead letters and runs name them
    "stream": {
        "projects": ("项目", "projects"),
        "boq_items": ("清单", "BOQ items"),
        "budget_lines": ("预算", "budget lines"),
        "contracts": ("合同", "contracts"),
        "cost_records": ("成本记录", "cost records"),
        "progress_reports": ("进度报告", "progress reports"),
        "payment_requests": ("付款申请", "payment requests"),
        "invoices": ("发票", "invoices"),
        "receipts": ("收款", "receipts"),
        "opening_balances": ("期初余额", "opening balances"),
        "workers": ("工人", "workers"),
        "attendance": ("考勤", "attendance"),
    },
    # what locates a failure (yecai.errors.Context)
    "context": {
        "connection": ("连接", "connection"),
        "stream": ("数据流", "stream"),
        "source_key": ("源单号", "source key"),
        "form": ("金蝶单据", "Kingdee form"),
        "posting_key": ("过账键", "posting key"),
    },
    # values the mapping table lacks (yecai.mapping.interface.Unmapped.kind)
    "unmapped": {
        "project": ("项目", "project"),
        "category": ("成本类别", "cost category"),
        "cost_item": ("费用明细", "cost item"),
        "supplier": ("供应商", "supplier"),
        "customer": ("客户", "customer"),
        "department": ("部门", "department"),
        "organisation": ("组织", "organisation"),
        "worker": ("员工", "worker"),
        "account": ("科目", "account"),
    },
    # 核算维度 as a Kingdee voucher names them, by the rule-set dimension they carry
    "dimension": {
        "project": ("项目", "project"),
        "department": ("部门", "department"),
        "supplier": ("供应商", "supplier"),
        "customer": ("客户", "customer"),
        "worker": ("员工", "employee"),
    },
    # yecai.auth.roles
    "role": {
        "admin": ("系统管理员", "administrator"),
        "integrator": ("实施顾问", "integrator"),
        "finance": ("财务", "finance"),
        "project_manager": ("项目经理", "project manager"),
        "auditor": ("审计", "auditor"),
    },
    "permission": {
        "read": ("查看", "view"),
        "operate": ("运维操作", "operate"),
        "approve": ("审批放行", "approve"),
        "configure": ("配置", "configure"),
        "manage_users": ("用户管理", "manage users"),
        "audit": ("查看审计日志", "read the audit log"),
    },
    # how a person reached yecai (yecai.auth.principal.Principal.via)
    "via": {
        "console": ("控制台", "console"),
        "api": ("API", "API"),
        "cli": ("命令行", "command line"),
        "system": ("系统", "system"),
    },
    # the audit log's actions and the things they act on (yecai.auth.audit.record)
    "audit_action": {
        "connection.pause": ("暂停连接", "connection paused"),
        "connection.resume": ("恢复连接", "connection resumed"),
        "deadletter.replay": ("重放死信", "dead letter replayed"),
        "deadletter.skip": ("跳过死信", "dead letter skipped"),
        "import.file": ("导入文件", "file imported"),
        "job.run": ("立即运行作业", "job run now"),
        "mapping.delete": ("删除映射", "mapping entry deleted"),
        "mapping.import": ("导入映射表", "mapping table imported"),
        "mapping.update": ("修改映射", "mapping entry changed"),
        "posting.approve": ("审批过账", "posting approved"),
        "posting.replay": ("重放过账", "posting replayed"),
        "posting.skip": ("跳过过账", "posting skipped"),
        "secret.delete": ("删除密钥", "secret deleted"),
        "secret.rotate_key": ("轮换加密密钥", "secrets key rotated"),
        "secret.set": ("保存密钥", "secret stored"),
        "secret.withdraw_old_key": ("撤下旧加密密钥", "old secrets key withdrawn"),
        "template.delete": ("删除列模板", "column template deleted"),
        "template.load": ("载入列模板", "column template loaded"),
        "token.create": ("新建 API 令牌", "API token created"),
        "token.revoke": ("吊销 API 令牌", "API token revoked"),
        "user.create": ("新建用户", "user created"),
        "user.password": ("重置密码", "password reset"),
        "user.unlock": ("解锁用户", "user unlocked"),
        "user.update": ("修改用户", "user changed"),
    },
    "audit_target": {
        "column_template": ("列模板", "column template"),
        "connection": ("连接", "connection"),
        "dead_letter": ("死信", "dead letter"),
        "file": ("文件", "file"),
        "job": ("作业", "job"),
        "mapping": ("映射表", "mapping table"),
        "posting": ("过账", "posting"),
        "secrets": ("加密密钥", "secrets key"),
        "token": ("API 令牌", "API token"),
        "user": ("用户", "user"),
    },
    # rule sets (yecai.mapping.rules.DEFAULT_FILES) and the Kingdee forms they write
    "rule_set": {
        "cost_actuals": ("实际成本", "actual costs"),
        "purchase_invoice": ("采购发票", "purchase invoices"),
        "payment_request": ("付款申请", "payment requests"),
        "payment": ("付款", "payments"),
        "receipt": ("收款", "receipts"),
        "valuation": ("产值计量", "valuations"),
        "revenue": ("收入确认", "revenue"),
        "prepaid_vat": ("预交增值税", "prepaid VAT"),
        "retention_due": ("质保金到期", "retention due"),
        "retention_received": ("质保金收回", "retention received"),
        "indirect_allocation": ("间接费用分配", "indirect cost allocation"),
        "accrual": ("暂估入账", "accruals"),
        "month_end": ("月末结转", "month-end close"),
    },
    "form": {
        "GL_VOUCHER": ("记账凭证", "voucher"),
        "CN_PAYAPPLY": ("付款申请单", "payment request"),
    },
    # where a posting's key is written in Kingdee (yecai.kingdee.keys); a custom F_ field is its own name
    "key_field": {
        "summary": ("摘要中的标记", "a token in the voucher's explanation"),
        "bill_no": ("单据编号", "the bill number"),
    },
    # the steps of a write to Kingdee (Save → Submit → Audit), as a posting records the last done
    "step": {
        "save": ("已保存", "saved"),
        "submit": ("已提交", "submitted"),
        "audit": ("已审核", "audited"),
    },
    # Kingdee's FDocumentStatus, as its screens name it
    "kingdee_status": {
        "Z": ("暂存", "draft"),
        "A": ("创建", "created"),
        "B": ("审核中", "in review"),
        "C": ("已审核", "audited"),
        "D": ("重新审核", "re-audit"),
    },
    "category": {
        **{
            category.value: (CATEGORY_NAMES_ZH[category], _CATEGORY_EN[category]) for category in CostCategory
        },
        # the P&L's line for cost booked before go-live (Kingdee's opening balances)
        "opening": ("期初累计成本", "cost at go-live"),
    },
    "accounting_standard": {
        "cas": ("企业会计准则", "Accounting Standards for Business Enterprises (CAS)"),
        "small": ("小企业会计准则", "Accounting Standards for Small Enterprises"),
    },
    "side": {"debit": ("借方", "debit"), "credit": ("贷方", "credit")},
    # the account roles of the rule sets' events (yecai.mapping.registry: spec.roles)
    "account_role": {
        "allocated": ("间接费用分配转入", "indirect costs allocated"),
        "pool": ("待分配间接费用", "indirect cost pool"),
        "input_vat": ("进项税额", "input VAT"),
        "pending_input_vat": ("待认证进项税额", "input VAT pending certification"),
        "inventory": ("原材料", "materials in stock"),
        "receivable": ("应收账款", "receivables"),
        "settlement": ("合同结算—价款结算", "contract settlement (billing)"),
        "settlement_revenue": ("合同结算—收入结转", "contract settlement (revenue)"),
        "output_vat": ("销项税额", "output VAT"),
        "deferred_output_vat": ("待转销项税额", "deferred output VAT"),
        "simple_vat": ("简易计税", "VAT, simple method"),
        "contract_asset": ("合同资产", "contract assets"),
        "contract_liability": ("合同负债", "contract liabilities"),
        "revenue": ("主营业务收入", "revenue"),
        "cost_of_sales": ("主营业务成本", "cost of sales"),
        "gross_margin": ("合同毛利", "gross margin"),
        "prepaid_vat": ("预交增值税", "prepaid VAT"),
        "unpaid_vat": ("未交增值税", "unpaid VAT"),
        "vat_transfer_out": ("转出未交增值税", "VAT transferred out"),
        "surcharge_expense": ("税金及附加", "taxes and surcharges"),
        "urban_tax": ("应交城市维护建设税", "urban maintenance tax payable"),
        "education_surcharge": ("应交教育费附加", "education surcharge payable"),
        "local_education_surcharge": ("应交地方教育附加", "local education surcharge payable"),
        "provision": ("预计负债", "provisions"),
        "bank": ("银行存款", "bank"),
        "wage_bank": ("农民工工资专用账户", "migrant workers' wage account"),
        "accrued_payable": ("应付账款—暂估", "accrued payables"),
    },
    # the mapping table's defaults (yecai.mapping.tables.MappingTable) and the policies they take;
    # the policies' Chinese words are also what the mapping workbook accepts (yecai.mapping.excel)
    "map_setting": {
        "accounting_standard": ("默认会计准则", "default accounting standard"),
        "project_default": ("项目未映射时", "unmapped projects"),
        "organisation_default": ("默认组织", "default organisation"),
        "department_default": ("默认部门", "default department"),
        "supplier_default": ("供应商未映射时", "unmapped suppliers"),
        "supplier_fallback": ("默认供应商", "catch-all supplier"),
        "customer_default": ("客户未映射时", "unmapped customers"),
        "customer_fallback": ("默认客户", "catch-all customer"),
        "worker_default": ("员工未映射时", "unmapped workers"),
    },
    "policy": {
        "report": ("报告", "report as unmapped"),
        "same_code": ("同编码", "same code"),
        "default": ("默认", "catch-all number"),
        "create": ("自动创建", "create in Kingdee"),
        "none": ("报告", "report as unmapped"),  # project_default's older spelling of `report`
    },
    # the monthly report's risks (yecai.reports.monthly.RISK_KINDS)
    "risk": {
        "negative_margin": ("毛利为负", "negative margin"),
        "overrun": ("成本超支", "cost overrun"),
        "unpaid": ("付款逾期", "unpaid requests"),
        "no_cost": ("本月无成本", "no cost this month"),
    },
    # reconciliation difference types (yecai.reconcile.classify.KINDS)
    "recon": {
        "missing_in_kingdee": ("金蝶缺失", "missing in Kingdee"),
        "unknown_in_kingdee": ("金蝶有、业财无（手工凭证）", "in Kingdee, unknown to yecai (manual entry)"),
        "amount_mismatch": ("金额不符", "amount mismatch"),
        "changed_in_kingdee": ("过账后在金蝶被改动", "changed in Kingdee after posting"),
        "source_changed": ("过账后源系统已变更", "source changed after posting"),
    },
    # contract ↔ invoice ↔ payment matching (yecai.reconcile.matching.Mismatch)
    "mismatch": {
        "cost_without_invoice": ("有成本未到票", "cost without invoice"),
        "invoice_without_cost": ("有票无成本", "invoice without cost"),
        "payment_beyond_invoices": ("付款超过到票", "paid beyond invoices"),
    },
    # alert events (yecai.observability.events.EVENTS) and the families a channel subscribes to
    "alert_event": {
        "job.dead": ("作业进入死信", "job dead"),
        "job.retrying": ("作业等待重试", "job retrying"),
        "job.attention": ("作业需关注", "job needs attention"),
        "job.lost": ("作业执行进程失联", "job worker lost"),
        "lease.taken_over": ("作业已被接管", "job taken over"),
        "connection.paused": ("连接已暂停", "connection paused"),
        "connection.resumed": ("连接已恢复", "connection resumed"),
        "kingdee.disconnected": ("金蝶连接中断", "Kingdee unreachable"),
        "kingdee.error": ("金蝶返回错误", "Kingdee error"),
        "run.failed": ("运行失败", "run failed"),
        "run.stalled": ("运行停滞", "run stalled"),
        "alert.test": ("测试告警", "test alert"),
        "reconcile.differences": ("对账发现差异", "reconciliation differences"),
        "job": ("作业类告警", "job events"),
        "lease": ("作业接管类告警", "lease events"),
        "connection": ("连接类告警", "connection events"),
        "kingdee": ("金蝶类告警", "Kingdee events"),
        "run": ("运行类告警", "run events"),
        "alert": ("测试告警", "test alerts"),
        "reconcile": ("对账类告警", "reconciliation events"),
    },
    "severity": {
        "info": ("提示", "info"),
        "warning": ("警告", "warning"),
        "error": ("错误", "error"),
        "critical": ("严重", "critical"),
    },
    "channel": {
        "dingtalk": ("钉钉", "DingTalk"),
        "feishu": ("飞书", "Feishu"),
        "wecom": ("企业微信", "WeCom"),
        "email": ("邮件", "email"),
    },
    # the language of an alert channel's messages, and of a user's console
    "alert_language": {"zh": ("中文", "Chinese"), "en": ("英文", "English"), "both": ("中英文", "both")},
    "language": {"zh": ("中文", "中文"), "en": ("English", "English")},  # each in its own words
    # a schedule on a public holiday (yecai.workspace.Schedule.holidays) and where it learns them
    "holidays": {
        "run": ("节假日照常运行", "runs on holidays"),
        "skip": ("节假日跳过", "skips holidays"),
        "next_workday": ("节假日顺延至下一工作日", "moves to the next working day"),
    },
    "coverage": {
        "chinesecalendar": ("法定节假日表", "the published holiday schedule"),
        "override": ("自定义节假日表", "the configured holiday table"),
        "weekends": ("仅按周末判断（缺少当年节假日表）", "weekends only (no holiday table for the year)"),
    },
    # coded values of documents, by the field that holds them (the document page's fields)
    "contract_kind": {
        "income": ("收入合同", "income contract"),
        "subcontract": ("专业分包", "subcontract"),
        "labour": ("劳务分包", "labour subcontract"),
        "purchase": ("材料采购", "purchase"),
        "lease": ("租赁", "lease"),
    },
    "vat_method": {"general": ("一般计税", "general method"), "simple": ("简易计税", "simple method")},
    "direction": {"in": ("进项", "received"), "out": ("销项", "issued")},
    "invoice_type": {
        "special": ("增值税专用发票", "special VAT invoice"),
        "ordinary": ("增值税普通发票", "ordinary VAT invoice"),
    },
    "status": {
        "draft": ("草稿", "draft"),
        "submitted": ("已提交", "submitted"),
        "approved": ("已批准", "approved"),
        "rejected": ("已驳回", "rejected"),
        "paid": ("已付款", "paid"),
    },
    "receipt_kind": {
        "progress": ("进度款", "progress payment"),
        "retention": ("质保金", "retention"),
        "advance": ("预收款", "advance"),
    },
    # why a report shows the period it shows (yecai.reports.latest.PeriodBasis)
    "period_basis": {
        "asked": ("所选期间", "as asked"),
        "postings": ("最近有数据的期间", "latest with data"),
        "source": ("最近有源数据的期间，尚未过账", "latest with source data, not yet posted"),
        "calendar": ("上月；工作区尚无数据", "last month; no data in the workspace yet"),
    },
    # what `yecai import` reads (yecai.cli.import_file.ImportKind)
    "import_kind": {
        "cost": ("成本", "costs"),
        "attendance": ("考勤", "attendance"),
        "invoice": ("发票", "invoices"),
        "payment_request": ("付款申请", "payment requests"),
        "budget": ("预算", "budgets"),
        "worker": ("工人", "workers"),
        "opening_balance": ("期初余额", "opening balances"),
    },
}

# Vocabularies whose codes carry a name after a colon (`sync:books` → 同步 books).
_QUALIFIED = frozenset({"run_kind"})


def _code(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def pair(prefix: str, value: object) -> Words | None:
    """The (中文, English) words of a coded value; None when the table has none."""
    code = _code(value)
    found = VOCABULARY.get(prefix, {}).get(code)
    if found is None and prefix in _QUALIFIED and ":" in code:
        head, _, name = code.partition(":")
        base = VOCABULARY[prefix].get(head)
        if base is not None:
            return f"{base[0]} {name}", f"{base[1]} {name}"
    return found


def label(prefix: str, value: object, lang: str = "zh") -> str:
    """The value in the page's language; a value with no words (a name a user chose) as it stands."""
    found = pair(prefix, value)
    if found is None:
        return _code(value)
    return found[1] if lang == "en" else found[0]


def both(prefix: str, value: object) -> str:
    """ "中文 English" for a workbook cell or a terminal, as the CLI and the Excel files write text."""
    found = pair(prefix, value)
    if found is None:
        return _code(value)
    zh, en = found
    return zh if zh == en else f"{zh} {en}"


def labeller(lang: str) -> Callable[[str, object], str]:
    """`label` bound to one language, for a template or a chart."""

    def bound(prefix: str, value: object) -> str:
        return label(prefix, value, lang)

    return bound


def words_of(prefix: str) -> Mapping[str, Words]:
    """One vocabulary, code → (中文, English) (for a table that lists them all)."""
    return VOCABULARY[prefix]
