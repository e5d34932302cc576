"""How yecai reads every Kingdee answer: one table from (MsgCode, message) to an outcome.

Decisions are data (the Airbyte lesson): each row names a MsgCode, optionally a message pattern,
what to do next (retry, fail, skip, uncertain), whose fault it is, and the text a user sees in
Chinese and English. A newly seen Kingdee message is one more row, not one more `if`. Transport
failures (timeouts, dropped connections, HTML error pages) have rows of their own, split by
whether the call was a write — a write that may have reached Kingdee is uncertain, never retried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yecai.errors import Action, Fault


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    fault: Fault
    zh: str
    en: str
    # a name for outcomes that callers handle specially (closed period → period policy, …)
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    msg_code: int | None  # None: any code
    pattern: str | None  # regex searched in the Kingdee message; None: any message
    outcome: Outcome

    def matches(self, msg_code: int | None, message: str) -> bool:
        if self.msg_code is not None and self.msg_code != msg_code:
            return False
        return self.pattern is None or re.search(self.pattern, message) is not None


def _row(
    code: int | None,
    pattern: str | None,
    action: Action,
    fault: Fault,
    zh: str,
    en: str,
    tag: str | None = None,
) -> Row:
    return Row(code, pattern, Outcome(action, fault, zh, en, tag))


A, F = Action, Fault

# Order matters: the first matching row wins, so specific patterns precede a code's catch-all.
# fmt: off
TABLE: tuple[Row, ...] = (
    _row(1, None, A.FAIL, F.CONFIGURATION,
         "金蝶拒绝了身份验证（重新登录后仍失败）：请核对账套ID、集成用户、AppID 和 AppSecret，以及第三方系统登录授权是否启用",
         "Kingdee refused authentication even after logging in again: check data centre id, integration user, AppID, AppSecret and that the third-party login authorisation is enabled",
         "session_lost"),
    _row(2, None, A.FAIL, F.CONFIGURATION,
         "集成用户没有该功能的操作权限，请在金蝶中为其授权",
         "the integration user lacks permission for this operation; grant it in Kingdee"),
    _row(4, r"业务对象不存在", A.FAIL, F.CONFIGURATION,
         "表单标识不存在：请检查规则集中的表单ID", "unknown form id: check the form in the rule set"),
    _row(4, r"GetRealExpress", A.FAIL, F.CONFIGURATION,
         "查询过滤条件无效", "the query filter is invalid"),
    _row(4, None, A.FAIL, F.REMOTE, "金蝶服务端异常", "Kingdee raised a server exception"),
    _row(3, None, A.FAIL, F.CONFIGURATION, "操作标识为空", "operation id is empty"),
    _row(5, None, A.FAIL, F.CONFIGURATION, "表单标识为空", "form id is empty"),
    _row(6, None, A.RETRY, F.TRANSIENT, "金蝶数据库操作失败，稍后重试", "Kingdee database operation failed; will retry"),
    _row(7, None, A.FAIL, F.CONFIGURATION,
         "金蝶许可不足：请检查模块许可或 SubSystemId", "Kingdee licence error: check module licences or SubSystemId"),
    _row(8, None, A.FAIL, F.CONFIGURATION, "请求参数错误", "request parameter error"),
    _row(9, None, A.FAIL, F.CONFIGURATION,
         "字段或值在金蝶中不存在：请检查规则集中的字段标识", "a field or value does not exist in Kingdee: check the field keys of the rule set"),
    _row(10, None, A.FAIL, F.DATA, "金蝶中未找到对应数据", "no matching data in Kingdee",
         "not_found"),
    _row(11, r"违反字段唯一性要求|已经被使用", A.UNCERTAIN, F.REMOTE,
         "编号已存在：先在金蝶中按过账键查找，确认是否已过账", "number already used: look the posting key up in Kingdee before anything else",
         "duplicate_number"),
    _row(11, r"借贷.*不平|借方.*贷方|不平衡", A.FAIL, F.CONFIGURATION,
         "凭证借贷不平衡：请检查过账规则", "voucher does not balance: check the posting rules"),
    _row(11, r"明细科目|非末级|末级科目", A.FAIL, F.CONFIGURATION,
         "只能使用明细科目：请在科目映射中改用末级科目", "only detail (leaf) accounts may be posted to: map to a leaf account"),
    _row(11, r"科目.*不存在|科目.*禁用", A.FAIL, F.CONFIGURATION,
         "科目不存在或已禁用：请检查科目映射", "account missing or forbidden: check the account mapping"),
    _row(11, r"核算维度|维度", A.FAIL, F.CONFIGURATION,
         "核算维度缺失或无效：请检查项目/部门等维度映射", "accounting dimension missing or invalid: check project/department mappings"),
    _row(11, r"结账|期间", A.FAIL, F.CONFIGURATION,
         "会计期间已结账或未开启：请按策略改入下一开放期间或联系财务反结账", "accounting period closed or not open: post to the next open period by policy or ask finance to reopen",
         "closed_period"),
    _row(11, r"单据已经审核", A.SKIP, F.REMOTE, "单据已审核，无需再审", "document already audited; nothing to do",
         "already_audited"),
    _row(11, r"单据状态为.*不能", A.FAIL, F.REMOTE,
         "单据当前状态不允许该操作（例如已审核的单据需先反审核）",
         "the document's status does not allow this operation (an audited document must be unaudited first)"),
    _row(11, None, A.FAIL, F.DATA, "金蝶校验未通过", "Kingdee validation failed"),
    _row(12, None, A.FAIL, F.REMOTE, "单据当前状态不可操作", "the document's status does not allow this operation"),
    _row(13, None, A.RETRY, F.TRANSIENT, "网控冲突（数据被其他操作锁定），稍后重试", "record locked by another operation; will retry",
         "locked"),
    _row(14, None, A.RETRY, F.TRANSIENT, "金蝶调用受限（限流），退避后重试", "Kingdee throttled the call; will back off and retry"),
    _row(15, None, A.FAIL, F.CONFIGURATION,
         "金蝶禁止管理员通过接口登录：请使用专用集成用户", "Kingdee forbids administrator logins over the API: use a dedicated integration user"),
    _row(None, None, A.FAIL, F.REMOTE, "金蝶返回失败", "Kingdee reported a failure"),
)
# fmt: on


# MsgCodes that refuse a whole call before any data package is processed; the others (9, 10, 11,
# 12, 13) are reported per package (DIndex) and may leave the rest of a batch saved.
CALL_LEVEL_CODES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 14, 15})

# A package of a failed batch with neither a success entity nor an error of its own.
NOT_CONFIRMED = Outcome(
    Action.UNCERTAIN,
    Fault.REMOTE,
    "批量保存中该数据包既未确认成功也未报错：先按过账键在金蝶中查询",
    "package neither confirmed nor refused in a failed batch: look it up by its posting key first",
)


def interpret(msg_code: int | None, message: str) -> Outcome:
    """The outcome for a business failure reported in `ResponseStatus`."""
    for row in TABLE:
        if row.matches(msg_code, message):
            return row.outcome
    raise AssertionError("the table ends with a catch-all row")


# Transport-level outcomes, (read, write). Reads are safe to repeat; a write that may have
# reached Kingdee is uncertain and must be looked up by its posting key before anything else.
TRANSPORT: dict[str, tuple[Outcome, Outcome]] = {
    "connect": (
        Outcome(
            A.RETRY,
            F.TRANSIENT,
            "无法连接金蝶服务器，稍后重试",
            "cannot connect to the Kingdee server; will retry",
            "unreachable",
        ),
        Outcome(
            A.RETRY,
            F.TRANSIENT,
            "无法连接金蝶服务器（请求未发出），稍后重试",
            "cannot connect to Kingdee (request not sent); will retry",
            "unreachable",
        ),
    ),
    "timeout": (
        Outcome(
            A.RETRY, F.TRANSIENT, "金蝶响应超时，稍后重试", "Kingdee timed out; will retry", "unreachable"
        ),
        Outcome(
            A.UNCERTAIN,
            F.TRANSIENT,
            "写入金蝶后未收到应答：结果未知，将先按过账键查询再决定",
            "no answer after writing to Kingdee: outcome unknown, will look the posting key up first",
        ),
    ),
    "http_error": (
        Outcome(
            A.RETRY,
            F.TRANSIENT,
            "金蝶服务器返回错误页，稍后重试",
            "Kingdee returned an HTTP error page; will retry",
        ),
        Outcome(
            A.UNCERTAIN,
            F.REMOTE,
            "金蝶服务器返回错误页：写入结果未知，将先查询",
            "Kingdee returned an HTTP error page: write outcome unknown, will look it up",
        ),
    ),
    "server_exception": (
        Outcome(
            A.FAIL, F.REMOTE, "金蝶服务端异常（response_error）", "Kingdee server exception (response_error)"
        ),
        Outcome(
            A.UNCERTAIN,
            F.REMOTE,
            "金蝶服务端异常：写入结果未知，将先查询",
            "Kingdee server exception: write outcome unknown, will look it up",
        ),
    ),
    "bad_data_centre": (
        Outcome(
            A.FAIL,
            F.CONFIGURATION,
            "账套ID错误：金蝶无法验证第三方通行证",
            "wrong data centre id: Kingdee could not verify the passport",
        ),
        Outcome(
            A.FAIL,
            F.CONFIGURATION,
            "账套ID错误：金蝶无法验证第三方通行证",
            "wrong data centre id: Kingdee could not verify the passport",
        ),
    ),
    "malformed": (
        Outcome(
            A.FAIL, F.REMOTE, "金蝶返回了无法解析的应答", "Kingdee returned an answer that cannot be parsed"
        ),
        Outcome(
            A.UNCERTAIN,
            F.REMOTE,
            "金蝶写入应答无法解析：结果未知，将先查询",
            "Kingdee's answer to a write cannot be parsed: outcome unknown, will look it up",
        ),
    ),
}


# Tags of the outcomes that mean yecai lost contact with the data centre (server unreachable or
# not answering reads, the session lost again right after a fresh login, the login refused): the
# jobs layer reports these as `kingdee.disconnected` rather than as one more error code.
DISCONNECTED_TAGS = frozenset({"unreachable", "session_lost", "login_refused"})


def delete_done(outcome: Outcome | None) -> bool:
    """Whether the answer to a Delete means the document is gone from Kingdee, so the goal is reached.

    A success does (no outcome), and so does "no matching data" (MsgCode 10): it was deleted
    before, by an earlier try whose answer was lost or by a person.
    """
    return outcome is None or outcome.tag == "not_found"


def transport_outcome(kind: str, *, write: bool) -> Outcome:
    read_outcome, write_outcome = TRANSPORT[kind]
    return write_outcome if write else read_outcome
