"""The console's words in Chinese and English: one table, Chinese first.

Templates say `t("key")`; a key missing from the table is a programming error (a test reads every
template for them). Coded values — posting states, roles, failure groups, rule sets, categories —
go through `label(prefix, value)`, whose words are the one table in `yecai.labels` that the Excel
writers and the CLI read too; a value with no words (a name a user chose) is shown as it stands. The language comes from the
`yecai_lang` cookie (the switch in the header), else the user's own setting, else Chinese.
"""

from __future__ import annotations

from collections.abc import Callable

from yecai import labels

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
COOKIE = "yecai_lang"

MESSAGES: dict[str, tuple[str, str]] = {
    # frame
    "brand": ("业财一体化", "integration hub"),
    "switch_to": ("English", "中文"),
    "sign_out": ("退出", "Sign out"),
    "my_account": ("我的账户", "My account"),
    "api_docs": ("API 文档", "API docs"),
    "licences": ("第三方许可", "third-party licences"),
    "voucher_search": ("金蝶凭证号反查", "Kingdee number → source"),
    "search": ("查找", "Find"),
    "filter": ("筛选", "Filter"),
    "all": ("全部", "all"),
    "none": ("无", "none"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "page": ("第 {n} 页", "page {n}"),
    "older": ("更早", "Older"),
    "newest": ("最新", "Newest"),
    "actions": ("操作", "Actions"),
    "save": ("保存", "Save"),
    "delete": ("删除", "Delete"),
    "edit": ("编辑", "Edit"),
    "cancel": ("取消", "Cancel"),
    "details": ("详情", "details"),
    "empty": ("暂无数据", "nothing here"),
    "company_wide_only": (
        "此页为全公司范围的运维信息，仅对可查看全部项目的角色显示。",
        "This page shows company-wide operations; it is shown to roles that see every project.",
    ),
    "back": ("返回", "Back"),
    # nav
    "nav.dashboard": ("仪表盘", "Dashboard"),
    "nav.projects": ("项目", "Projects"),
    "nav.postings": ("过账", "Postings"),
    "nav.approvals": ("审批", "Approvals"),
    "nav.dead_letters": ("死信", "Dead letters"),
    "nav.jobs": ("作业", "Jobs"),
    "nav.connections": ("连接", "Connections"),
    "nav.mappings": ("映射表", "Mappings"),
    "nav.alerts": ("告警", "Alerts"),
    "nav.audit": ("审计日志", "Audit log"),
    "nav.users": ("用户与角色", "Users & roles"),
    # login
    "login.title": ("登录", "Sign in"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.expired": ("登录表单已过期，请重新提交", "the sign-in form expired; submit it again"),
    "login.tagline": (
        "工程项目管理系统 → 金蝶云星空：一次业务，一个来源，两套账",
        "Construction project systems → Kingdee K/3 Cloud: one business event, one source, two sets of books",
    ),
    # errors
    "error.forbidden": ("无权访问", "Not allowed"),
    "error.not_found": ("未找到", "Not found"),
    "error.not_found_text": (
        "没有该对象，或您无权查看。",
        "There is no such thing here, or it is not yours to see.",
    ),
    "error.to_dashboard": ("回到仪表盘", "Back to the dashboard"),
    "error.no_workspace": ("无法读取工作区", "cannot read the workspace"),
    # dashboard
    "dash.title": ("仪表盘", "Dashboard"),
    "dash.backlog": ("待处理过账", "Backlog"),
    "dash.backlog_hint": (
        "已计划、待审批、发送中、结果未定或已保存",
        "planned, awaiting approval, sending, uncertain or saved",
    ),
    "dash.awaiting": ("待审批", "Awaiting approval"),
    "dash.dead": ("死信", "Dead letters"),
    "dash.invalid": ("无效记录", "Invalid records"),
    "dash.documents": ("单据", "Documents"),
    "dash.postings": ("过账总数", "Postings"),
    "dash.failures": ("失败：该谁处理", "Failures, by what to do next"),
    "dash.by_state": ("过账状态分布", "Postings by state"),
    "dash.by_group": ("失败分组", "Failures by group"),
    "dash.last_syncs": ("各连接最近同步", "Last sync per connection"),
    "dash.runs": ("最近运行", "Recent runs"),
    "dash.open_states": ("待处理明细", "Backlog by state"),
    "dash.source.postings": ("过账", "postings"),
    "dash.source.dead_letters": ("死信", "dead letters"),
    "dash.source.records": ("无效记录", "invalid records"),
    "dash.project_scope": ("仅显示您负责的项目", "showing your own projects only"),
    # common columns
    "col.id": ("编号", "ID"),
    "col.code": ("项目编码", "Code"),
    "col.name": ("名称", "Name"),
    "col.kind": ("类型", "Kind"),
    "col.connection": ("连接", "Connection"),
    "col.status": ("状态", "Status"),
    "col.state": ("状态", "State"),
    "col.started": ("开始", "Started"),
    "col.finished": ("结束", "Finished"),
    "col.counts": ("计数", "Counts"),
    "col.message": ("说明", "Message"),
    "col.documents": ("单据数", "Documents"),
    "col.cost_total": ("成本合计", "Cost total"),
    "col.postings": ("过账数", "Postings"),
    "col.source_key": ("源单号", "Source key"),
    "col.version": ("版本", "Version"),
    "col.project": ("项目", "Project"),
    "col.date": ("业务日期", "Date"),
    "col.category": ("类别", "Category"),
    "col.amount": ("金额", "Amount"),
    "col.deleted": ("源已删除", "Deleted in source"),
    "col.received": ("接收时间", "Received"),
    "col.posting_key": ("过账键", "Posting key"),
    "col.rule_set": ("规则集", "Rule set"),
    "col.form": ("金蝶单据", "Kingdee form"),
    "col.debit_total": ("借方合计", "Debit total"),
    "col.kingdee_number": ("金蝶凭证字号/单据编号", "Kingdee voucher / bill no."),
    "col.kingdee_id": ("金蝶内码", "Kingdee id"),
    "col.attempts": ("尝试次数", "Attempts"),
    "col.line": ("行号", "Line"),
    "col.active": ("有效", "Active"),
    "col.document": ("单据", "Document"),
    "col.job": ("作业", "Job"),
    "col.failed_at": ("失败时间", "Failed at"),
    "col.error": ("错误", "Error"),
    "col.group": ("处理方", "What to do"),
    "col.schedule": ("计划", "Schedule"),
    "col.next_run": ("下次运行", "Next run"),
    "col.last_run": ("上次运行", "Last run"),
    "col.current": ("当前", "Now"),
    "col.paused": ("暂停", "Paused"),
    "col.address": ("地址", "Address"),
    "col.secrets": ("已存密钥（仅名称）", "Stored secrets (names only)"),
    "col.health": ("健康状况", "Health"),
    "col.key": ("键", "Key"),
    "col.value": ("值", "Value"),
    "col.at": ("时间", "When"),
    "col.actor": ("操作人", "Who"),
    "col.action": ("动作", "Action"),
    "col.target": ("对象", "Target"),
    "col.change": ("变更", "Change"),
    "col.via": ("途径", "Via"),
    "col.username": ("用户名", "User name"),
    "col.display_name": ("显示名", "Display name"),
    "col.role": ("角色", "Role"),
    "col.projects": ("项目", "Projects"),
    "col.language": ("语言", "Language"),
    "col.last_login": ("上次登录", "Last sign-in"),
    "col.locked": ("暂停登录至", "sign-in paused until"),
    "col.token_name": ("令牌名称", "Token name"),
    "col.prefix": ("前缀", "Prefix"),
    "col.created": ("创建", "Created"),
    "col.expires": ("到期", "Expires"),
    "col.last_used": ("上次使用", "Last used"),
    "col.revoked": ("已吊销", "Revoked"),
    "col.event": ("事件", "Event"),
    "col.title": ("标题", "Title"),
    "col.platform": ("平台", "Platform"),
    "col.events": ("订阅事件", "Events"),
    "col.min_severity": ("最低级别", "Min severity"),
    "col.dedupe": ("去重（分钟）", "De-dupe (min)"),
    "col.per_hour": ("每小时上限", "Per hour"),
    "col.recipients": ("收件人", "Recipients"),
    "col.table": ("映射表", "Table"),
    "col.needed_by": ("涉及单据", "Documents"),
    "col.source": ("源系统", "Source"),
    "col.target_kd": ("金蝶", "Kingdee"),
    "col.mapping_file": ("映射文件", "Mapping file"),
    # projects and documents
    "projects.title": ("项目", "Projects"),
    "project.title": ("项目 {code}", "Project {code}"),
    "project.documents": ("单据", "Documents"),
    "project.postings": ("过账", "Postings"),
    "document.title": ("单据 {id}", "Document {id}"),
    "document.record": ("原始记录", "Source record"),
    "document.data": ("规范化单据", "Canonical document"),
    "document.archived": ("原始内容已归档至", "Raw payload archived to"),
    "document.archive_line": ("第 {line} 行", "line {line}"),
    "document.archive_content": ("归档中的原始内容（已校验行）", "Raw payload read from the archive"),
    "document.archive_missing": (
        "归档文件不在本机 {path}：用 yecai archive read FILE --line N 在存放处读取",
        "the archive file is not at {path} on this host: read it where it is kept with yecai archive read FILE --line N",
    ),
    "document.versions": ("版本", "Versions"),
    "document.postings": ("相关过账", "Postings"),
    "document.current": ("当前", "this one"),
    # postings
    "postings.title": ("过账", "Postings"),
    "posting.title": ("过账 {id}", "Posting {id}"),
    "posting.lines": ("过账行与来源单据", "Lines and their source documents"),
    "posting.request": ("发送给金蝶的请求", "Request sent to Kingdee"),
    "posting.response": ("金蝶的响应", "Kingdee's response"),
    "posting.key_field": ("过账键所在字段", "Key field"),
    "posting.kingdee_key": ("金蝶中的过账键", "Key in Kingdee"),
    "posting.step": ("步骤", "Step"),
    "posting.kingdee_status": ("金蝶单据状态", "Kingdee status"),
    "posting.reverses": ("冲销的原过账", "Reverses"),
    "posting.reversed_by": ("被以下过账冲销", "Reversed by"),
    "posting.approved_by": ("审批人", "Approved by"),
    "posting.error_code": ("错误码", "Error code"),
    "posting.error_action": ("处理建议", "Advice"),
    "posting.replay": ("重放", "Replay"),
    "posting.skip": ("跳过", "Skip"),
    "posting.skip_reason": ("跳过原因（必填）", "Reason for skipping (required)"),
    "posting.replayed": (
        "已重放，过账将按其键先在金蝶中查找",
        "replayed: the posting is looked up in Kingdee by its key first",
    ),
    "posting.skipped": ("已跳过", "skipped"),
    "posting.none": ("无", "none"),
    "voucher.title": ("凭证 {number} 的来源", "Sources of {number}"),
    "voucher.none": (
        "没有金蝶编号为 {number} 的过账（或无权查看）",
        "no posting with Kingdee number {number} (or not yours to see)",
    ),
    "voucher.placeholder": ("如 YC4A91…", "e.g. YC4A91…"),
    # approvals
    "approvals.title": ("审批队列", "Approval queue"),
    "approvals.hint": (
        "以下凭证在过账前需要财务放行。选中后批准，下次同步将发送到金蝶。",
        "These vouchers wait for finance to release them; approved ones are sent at the next sync.",
    ),
    "approvals.approve": ("批准所选", "Approve selected"),
    "approvals.select_all": ("全选", "Select all"),
    "approvals.done": ("已批准 {n} 张", "{n} approved"),
    "approvals.none_selected": ("请至少选择一张", "select at least one"),
    # dead letters
    "dead.title": ("死信", "Dead letters"),
    "dead.hint": (
        "多次重试仍失败的作业。修正原因后重放，或写明原因后跳过。",
        "Jobs that failed for good. Fix the cause and replay, or skip with a reason.",
    ),
    "dead.replay": ("重放", "Replay"),
    "dead.skip": ("跳过", "Skip"),
    "dead.reason": ("跳过原因", "Reason"),
    "dead.replayed": ("已重放：{message}", "replayed: {message}"),
    "dead.skipped": ("已跳过", "skipped"),
    "dead.by": ("{who} 于 {when}", "by {who} at {when}"),
    "dead.since": ("自 {since} 起重读", "re-reading since {since}"),
    # jobs
    "jobs.title": ("作业与计划", "Jobs and schedules"),
    "jobs.run_now": ("立即运行", "Run now"),
    "jobs.manual": ("手动", "manual"),
    "jobs.runs": ("最近运行", "Recent runs"),
    "jobs.beijing": ("计划（cron）按北京时间执行", "schedules (cron) run on Beijing time"),
    # connections
    "conn.title": ("连接", "Connections"),
    "conn.test": ("测试连接", "Test connection"),
    "conn.pause": ("暂停", "Pause"),
    "conn.resume": ("恢复", "Resume"),
    "conn.paused_by": ("已暂停：{reason}", "paused: {reason}"),
    "conn.failures": ("连续失败 {n} 次", "{n} failures in a row"),
    "conn.last_success": ("上次成功 {when}", "last success {when}"),
    "conn.ok": ("正常", "ok"),
    "conn.secret_form": (
        "保存密钥（加密存储，保存后不再显示）",
        "Store a secret (encrypted at rest; never shown again)",
    ),
    "conn.secret_key": ("密钥名", "Secret name"),
    "conn.secret_value": ("密钥值", "Secret value"),
    "conn.secret_saved": ("密钥已加密保存", "the secret is stored, encrypted"),
    "conn.secret_deleted": ("密钥已删除", "the secret is deleted"),
    "conn.secret_hint": (
        "工作区文件中以 ${名称} 引用。",
        "The workspace file refers to it as ${NAME}.",
    ),
    "conn.test_ok": ("连接正常（{seconds} 秒）", "works ({seconds} s)"),
    "conn.test_failed": ("连接失败（{seconds} 秒）", "failed ({seconds} s)"),
    # mappings
    "map.title": ("映射表", "Mapping tables"),
    "map.job_title": ("作业 {job} 的映射表", "Mapping table of job {job}"),
    "map.builtin": (
        "该作业使用内置映射表，不能在线编辑：先用 yecai mapping export 导出，再在 yecai.yaml 中设置 mapping。",
        "This job uses the built-in table, which cannot be edited here: export it (yecai mapping export) and name the file as mapping: in yecai.yaml.",
    ),
    "map.settings": ("默认规则", "Defaults"),
    "map.form": ("新增或修改一项", "Add or change an entry"),
    "map.number": ("金蝶编码", "Kingdee number"),
    "map.org": ("组织", "Organisation"),
    "map.department": ("部门", "Department"),
    "map.cost_centre": ("成本中心", "Cost centre"),
    "map.standard": ("会计准则", "Accounting standard"),
    "map.debit": ("借方科目", "Debit account"),
    "map.credit": ("贷方科目", "Credit account"),
    "map.key_hint": (
        "项目编码、供应商/客户名称、身份证号；成本科目为 准则/类别，如 cas/labour",
        "project code, supplier/customer name, ID number; cost accounts: standard/category, e.g. cas/labour",
    ),
    "map.saved": ("已保存 {table} / {key}", "saved {table} / {key}"),
    "map.deleted": ("已删除 {table} / {key}", "deleted {table} / {key}"),
    "map.unmapped": ("未映射的值", "Unmapped values"),
    "map.unmapped_hint": (
        "当前单据需要、映射表中尚没有的值；这些单据暂不过账。",
        "Values the current documents need and the table lacks; those documents are held back.",
    ),
    "map.unmapped_none": ("没有未映射的值", "nothing unmapped"),
    "map.map_it": ("去映射", "Map it"),
    "map.loading": ("正在检查…", "checking…"),
    "map.version": ("版本", "version"),
    "map.builtin_name": ("内置映射表", "built-in table"),
    "map.table.projects": ("项目", "Projects"),
    "map.table.suppliers": ("供应商", "Suppliers"),
    "map.table.customers": ("客户", "Customers"),
    "map.table.workers": ("员工", "Workers"),
    "map.table.cost_accounts": ("成本科目", "Cost accounts"),
    "map.project_scope": ("仅显示您负责项目的行", "showing the rows of your own projects only"),
    # alerts
    "alerts.tested": (
        "告警通道 {channel} 测试结果：{status} {error}",
        "test of alert channel {channel}: {status} {error}",
    ),
    "alerts.test": ("发送测试", "Send a test"),
    "alerts.title": ("告警", "Alerts"),
    "alerts.channels": ("告警通道", "Channels"),
    "alerts.channels_hint": (
        "通道在 yecai.yaml 中配置（kind: alert），其密钥在“连接”页保存。",
        "Channels are configured in yecai.yaml (kind: alert); their secrets are stored on the Connections page.",
    ),
    "alerts.deliveries": ("最近发送", "Recent deliveries"),
    "alerts.no_channels": ("尚未配置告警通道", "no alert channel is configured"),
    # audit
    "audit.title": ("审计日志", "Audit log"),
    "audit.scope": (
        "您可查看本人的操作及所负责项目的记录。",
        "You see your own actions and the entries of your projects.",
    ),
    "audit.action_prefix": ("动作（前缀）", "Action (prefix)"),
    "audit.target_type": ("对象类型", "Target type"),
    "audit.target_id": ("对象编号", "Target id"),
    # users
    "users.title": ("用户与角色", "Users and roles"),
    "users.create": ("新建用户", "New user"),
    "users.password_hint": ("留空则自动生成（只显示一次）", "leave empty to generate one (shown once)"),
    "users.projects_hint": (
        "项目编码，逗号分隔（项目经理只能看到这些项目）",
        "project codes, comma-separated (a project manager sees only these)",
    ),
    "users.created": ("已创建用户 {username}", "user {username} created"),
    "users.password_once": (
        "初始密码（仅显示这一次，请转交本人并要求其修改）：",
        "Initial password (shown this once; hand it over and ask them to change it):",
    ),
    "users.updated": ("已更新用户 {username}", "user {username} updated"),
    "users.unlock": ("解锁", "Unlock"),
    "users.unlocked": ("已解锁 {username}", "{username} unlocked"),
    "users.disable": ("停用", "Disable"),
    "users.enable": ("启用", "Enable"),
    "users.reset_password": ("重置密码", "Reset password"),
    "users.password_reset": (
        "{username} 的新密码（仅显示这一次）：",
        "New password of {username} (shown this once):",
    ),
    "users.active": ("启用", "active"),
    "users.inactive": ("已停用", "disabled"),
    "users.tokens": ("API 令牌", "API tokens"),
    "users.token_create": ("新建令牌", "New token"),
    "users.token_days": ("有效天数（空 = 不过期）", "Days valid (empty: no expiry)"),
    "users.token_once": ("令牌（仅显示这一次，请立即保存）：", "Token (shown this once; store it now):"),
    "users.revoke": ("吊销", "Revoke"),
    "users.revoked": ("令牌已吊销", "token revoked"),
    "users.roles": ("角色与权限", "Roles and permissions"),
    # account
    "account.title": ("我的账户", "My account"),
    "account.password": ("修改密码", "Change password"),
    "account.current": ("当前密码", "Current password"),
    "account.new": ("新密码", "New password"),
    "account.changed": ("密码已修改，请重新登录", "password changed; sign in again"),
    "account.wrong": ("当前密码不正确", "the current password is wrong"),
}

# reports: the project P&L page and the monthly operating analysis page
MESSAGES.update(
    {
        "nav.reports": ("月度经营分析", "Monthly report"),
        "report.period": ("期间", "Period"),
        "report.show": ("查看", "Show"),
        "report.export_xlsx": ("导出 Excel", "Export to Excel"),
        "pnl.link": ("项目损益", "Project P&L"),
        "pnl.title": ("项目损益 {code}", "P&L of project {code}"),
        "pnl.contract_value": ("合同额", "Contract value"),
        "pnl.revenue": ("累计收入", "Revenue to date"),
        "pnl.cost": ("累计成本", "Cost to date"),
        "pnl.cost_month": ("本月成本", "Cost this month"),
        "pnl.month": ("本月", "this month"),
        "pnl.margin": ("累计毛利", "Gross margin to date"),
        "pnl.variance": ("成本偏差 %", "Cost variance %"),
        "pnl.variance_amount": ("偏差额", "Variance"),
        "pnl.complete": ("完工", "complete"),
        "pnl.basis.progress": ("按进度", "by progress"),
        "pnl.basis.time": ("按工期比例", "pro rata to time"),
        "pnl.basis.full": ("全部预算", "whole budget"),
        "pnl.basis.none": ("无预算", "no budget"),
        "pnl.category": ("成本项目", "Cost category"),
        "pnl.budget": ("目标成本", "Budget"),
        "pnl.budget_to_date": ("至今预算", "Budget to date"),
        "pnl.share": ("占比", "Share"),
        "pnl.chart_categories": ("成本与预算（按成本项目）", "Cost against budget by category"),
        "pnl.chart_trend": ("月度成本与收入", "Monthly cost and revenue"),
        "pnl.chart_margin": ("收入、成本与毛利", "Revenue, cost and margin"),
        "pnl.source": (
            "收入与成本取自金蝶 {kingdee} 的凭证（同步作业 {job} 的科目）；预算与进度取自项目管理系统。",
            "Revenue and cost as Kingdee {kingdee} holds them (the accounts of sync job {job}); "
            "budget and progress from the PM system.",
        ),
        "monthly.title": ("月度经营分析", "Monthly operating analysis"),
        "monthly.intro": (
            "选择期间，一键生成 Excel（含原生图表）或 HTML 报告；数字实时读取自金蝶账簿。",
            "Pick a period and generate the Excel workbook (native charts) or the HTML report in one "
            "click; the figures are read from Kingdee's books at that moment.",
        ),
        "monthly.scope": ("报告只包含您负责的项目。", "The report covers your projects only."),
        "monthly.xlsx": ("生成 Excel", "Generate Excel"),
        "monthly.html": ("生成 HTML", "Generate HTML"),
        "monthly.definitions": (
            "口径：收入 = 主营业务收入贷方净额；成本 = 合同履约成本借方发生额；至今预算 = 目标成本 × 完工百分比；详见 docs/reports.md。",
            "Definitions: revenue = net credit of 主营业务收入; cost = debits of 合同履约成本; budget to "
            "date = budget × % complete; see docs/reports.md.",
        ),
    }
)

# the projects list: search by code or name, money columns and their 合计 row
MESSAGES.update(
    {
        "projects.search": ("搜索项目编码或名称", "Search by project code or name"),
        "projects.search_button": ("搜索", "Search"),
        "projects.clear": ("清除", "Clear"),
        "projects.found": ("找到 {n} 个项目", "{n} projects found"),
        "projects.totals": ("合计（{n} 个项目）", "Total ({n} projects)"),
        "col.contract_value": ("合同额", "Contract value"),
    }
)


def choose(cookie: str | None, preferred: str | None) -> str:
    """The page language: the switch's cookie, else the user's setting, else Chinese."""
    for candidate in (cookie, preferred):
        if candidate in LANGUAGES:
            return str(candidate)
    return DEFAULT


def translator(lang: str) -> Callable[..., str]:
    index = 0 if lang == "zh" else 1

    def t(message: str, /, **values: object) -> str:
        text = MESSAGES[message][index]  # KeyError: a template names a key the table lacks
        return text.format(**values) if values else text

    return t


def labeller(lang: str) -> Callable[[str, object], str]:
    """Coded values in words (`label("state", posting.state)`), from the one table in yecai.labels."""
    return labels.labeller(lang)


# reconciliation: the runs, one run's differences (the type names are labels: `label("recon", kind)`)
MESSAGES.update(
    {
        "nav.reconciliations": ("对账", "Reconciliation"),
        "recon.title": ("对账", "Reconciliation"),
        "recon.intro": (
            "源系统 ↔ 业财 ↔ 金蝶，按项目 × 科目 × 期间核对；每晚随同步作业运行，也可立即运行。",
            "source ↔ yecai ↔ Kingdee per project × account × period; runs nightly with the sync job, or now.",
        ),
        "recon.run_title": ("对账 #{id}", "Reconciliation #{id}"),
        "recon.run_now": ("立即对账", "Reconcile now"),
        "recon.period": ("期间", "Period"),
        "recon.kind": ("差异类型", "Difference type"),
        "recon.count": ("数量", "Count"),
        "recon.account": ("科目", "Account"),
        "recon.source": ("源系统", "Source"),
        "recon.yecai": ("业财", "yecai"),
        "recon.kingdee": ("金蝶", "Kingdee"),
        "recon.explanation": ("说明及处理", "Explanation and what to do"),
        "recon.download": ("导出 Excel", "Export to Excel"),
        "recon.balance_mismatch": (
            "科目余额表与凭证查询不一致的科目 {n} 个：金蝶一侧的读数可能不完整，请检查后重新对账。",
            "{n} account(s) differ between the account-balance report and the vouchers read: the Kingdee "
            "side may be incomplete; check and reconcile again.",
        ),
    }
)

# the voucher as Kingdee prints it, a bill's fields, a document's fields (issue 14)
MESSAGES.update(
    {
        "voucher.heading": ("记账凭证", "Voucher"),
        "voucher.word": ("凭证字号", "Voucher number"),
        "voucher.unnumbered": ("（金蝶尚未编号）", "(not yet numbered by Kingdee)"),
        "voucher.book": ("账簿", "Account book"),
        "voucher.explanation": ("摘要", "Explanation"),
        "voucher.account": ("会计科目", "Account"),
        "voucher.dimensions": ("核算维度", "Dimensions"),
        "voucher.debit": ("借方金额", "Debit"),
        "voucher.credit": ("贷方金额", "Credit"),
        "voucher.total": ("合计", "Total"),
        "voucher.unbalanced": ("借贷不平", "does not balance"),
        "voucher.names_unavailable": (
            "暂时读不到金蝶科目表，科目只显示编码；金蝶可连接后刷新本页。",
            "Kingdee's chart of accounts cannot be read now, so accounts show their codes only; "
            "refresh once Kingdee is reachable.",
        ),
        "voucher.bill": ("单据", "Bill"),
        "voucher.json": ("接口报文（供集成人员）", "API messages (for integrators)"),
        "document.fields": ("单据内容", "Document"),
        "document.raw": ("原始数据（供集成人员）", "Raw data (for integrators)"),
    }
)
MESSAGES.update(
    {
        "map.in_use": ("本作业使用的会计科目", "Accounts this job posts to"),
        "map.in_use_hint": (
            "按本作业项目所用的会计准则，列出各规则集可能记入的科目；科目名称取自金蝶科目表。",
            "per accounting standard this job's projects use, the accounts its rule sets may post to; "
            "names from Kingdee's chart of accounts.",
        ),
        "map.account_number": ("科目编码", "Account code"),
        "map.account_name": ("科目名称", "Account name"),
        "map.used_by": ("使用的规则集", "Used by"),
        "map.name_unknown": ("（金蝶科目表中没有）", "(not in Kingdee's chart)"),
    }
)
MESSAGES.update(
    {
        "recon.incomplete": (
            "本次对账未完成（{status}）：没有比较任何凭证，下列数字不代表“无差异”；请排除原因后重新对账。",
            "this reconciliation did not complete ({status}): nothing was compared, so the figures below do "
            "not mean “no difference”; fix the cause and reconcile again.",
        ),
        "recon.evidence": ("比较了什么", "What was compared"),
        "recon.evidence_hint": (
            "每个期间两边读到的凭证数、分录行数和借贷合计；差异为零时，这就是证据。",
            "per period, the vouchers, lines and debit/credit totals read on each side: the evidence "
            "behind zero differences.",
        ),
        "recon.vouchers": ("凭证数", "Vouchers"),
        "recon.lines": ("分录行", "Lines"),
    }
)
