"""Every text sandbox.kingdee puts in front of a client, in one table.

Texts marked `verbatim` were seen on real K/3 Cloud servers (WebAPI §4.2, §5, §6.6);
texts marked `inferred` are this sandbox's plausible wording for cases where the real text is not
public (unbalanced voucher, closed period, missing base data, …). When a live tenant shows the real
wording, correct the row here — nothing else in the sandbox spells these texts out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Source = Literal["verbatim", "inferred"]


@dataclass(frozen=True, slots=True)
class MessageText:
    """One message: its `str.format` template, the MsgCode it travels with, and where it comes from."""

    template: str
    msg_code: int
    source: Source


MESSAGES: dict[str, MessageText] = {
    # --- authentication (§4.2, §4.4) -------------------------------------------------------------
    "session_lost": MessageText("会话信息已丢失，请重新登录", 1, "verbatim"),
    "thirty_passport": MessageText("Fail to verify thirty passport", 0, "verbatim"),
    "login_bad_password": MessageText("用户名或密码错误", 0, "verbatim"),
    "login_bad_app": MessageText("第三方系统登录授权验证失败：应用ID或应用密钥不正确。", 0, "inferred"),
    "login_bad_sign": MessageText("签名验证失败，请检查签名算法和参与签名的参数。", 0, "inferred"),
    "login_wrong_data_centre": MessageText("数据中心“{acct_id}”不存在，请检查账套ID。", 0, "inferred"),
    "login_bad_lcid": MessageText("语言代码{lcid}在当前数据中心不可用。", 0, "inferred"),
    # --- transport (§2.6, §3.5) ------------------------------------------------------------------
    "show_err_title": MessageText("金蝶温馨提示: 应用服务器发生错误，请联系系统管理员检修！", 0, "verbatim"),
    "bare_array_body": MessageText(
        "Additional text found in JSON string after finishing deserializing object.", 0, "verbatim"
    ),
    "invalid_json_body": MessageText(
        "Unexpected character encountered while parsing value. Path '', line 1, position {position}.",
        0,
        "inferred",
    ),
    "unknown_service": MessageText("未找到服务“{service}”，请检查服务名称是否正确。", 0, "inferred"),
    "service_not_emulated": MessageText("沙箱暂不支持服务“{service}”。", 0, "inferred"),
    "internal_error": MessageText("服务器内部错误：{detail}", 0, "inferred"),
    # --- query errors (§5.4, §6.6) ---------------------------------------------------------------
    "form_not_exist": MessageText("标识为“{form_id}”的业务对象不存在，或者被删除", 4, "verbatim"),
    "field_not_exist": MessageText("元数据中标识为{key}的字段不存在", 9, "verbatim"),
    "field_keys_empty": MessageText("data 数据包中的参数 FieldKeys 的值不能为空", 8, "verbatim"),
    "filter_error": MessageText("GetRealExpress error...{detail}", 4, "verbatim"),
    "form_id_empty": MessageText("data 数据包中的参数 FormId 的值不能为空", 5, "inferred"),
    "formid_empty": MessageText("参数 formid 的值不能为空", 5, "inferred"),
    "data_invalid": MessageText("参数 data 的值格式不正确，应为 JSON 对象", 8, "inferred"),
    "limit_too_large": MessageText("data 数据包中的参数 Limit 的值不能大于10000", 8, "inferred"),
    "parameter_invalid": MessageText("data 数据包中的参数 {name} 的值“{value}”格式不正确", 8, "inferred"),
    "order_error": MessageText("排序字段“{detail}”格式不正确", 4, "inferred"),
    # --- save errors (§5.2, §5.4) ----------------------------------------------------------------
    "duplicate_number": MessageText(
        "违反字段唯一性要求：编码唯一。[{number}]在当前系统中已经被使用。", 11, "verbatim"
    ),
    "model_missing": MessageText("data 数据包中的参数 Model 的值不能为空", 8, "inferred"),
    "model_not_object": MessageText("data 数据包中的参数 Model 格式不正确，应为 JSON 对象", 8, "inferred"),
    "entry_prefix": MessageText("第{row}行分录：", 0, "inferred"),
    "field_required": MessageText("{where}字段[{caption}]是必录字段。", 11, "inferred"),
    "value_invalid": MessageText("{where}字段[{caption}]的值“{value}”格式不正确。", 8, "inferred"),
    "base_data_not_found": MessageText("{where}字段[{caption}]的值[{value}]在系统中不存在。", 11, "inferred"),
    "base_data_forbidden": MessageText("{where}字段[{caption}]的值[{value}]已被禁用。", 11, "inferred"),
    "base_data_unaudited": MessageText(
        "{where}字段[{caption}]的值[{value}]未审核，不能引用。", 11, "inferred"
    ),
    "record_not_found": MessageText("内码为{id}的{form_name}不存在，或者已被删除。", 10, "inferred"),
    "record_number_not_found": MessageText(
        "编码为“{number}”的{form_name}不存在，或者已被删除。", 10, "inferred"
    ),
    "record_audited": MessageText("单据编号为“{number}”的{form_name}已经审核，不允许修改。", 11, "inferred"),
    "record_submitted": MessageText(
        "单据编号为“{number}”的{form_name}正在审核中，不允许修改。", 11, "inferred"
    ),
    "draft_not_allowed": MessageText("单据编号为“{number}”的{form_name}已保存，不能暂存。", 11, "inferred"),
    "repeat_json": MessageText(
        "数据包重复：相同的JSON数据包已于{saved_at}保存为{form_name}“{number}”，不允许重复提交。",
        11,
        "inferred",
    ),
    "base_data_not_allocated": MessageText(
        "{where}字段[{caption}]的值[{value}]未分配到组织[{org}]。", 11, "inferred"
    ),
    "network_conflict": MessageText(
        "网控冲突：{form_name}“{number}”正在被用户“{holder}”执行“{operation}”，请稍后再试。", 13, "inferred"
    ),
    "account_parent_missing": MessageText("科目[{number}]的上级科目[{parent}]不存在。", 11, "inferred"),
    # --- GL_VOUCHER validations (§5.4, §11: real wording not public) -----------------------------
    "voucher_no_entries": MessageText("凭证分录不能为空。", 11, "inferred"),
    "voucher_unbalanced": MessageText(
        "凭证借贷不平衡：借方合计{debit}，贷方合计{credit}，差额{difference}。", 11, "inferred"
    ),
    "account_not_leaf": MessageText(
        "{where}科目[{number} {name}]不是明细科目，只能使用明细科目录入凭证。", 11, "inferred"
    ),
    "account_not_in_book_chart": MessageText(
        "{where}科目编码[{number}]在账簿[{book}]的科目表[{table}]中不存在。", 11, "inferred"
    ),
    "dimension_required": MessageText(
        "{where}科目[{number} {name}]的核算维度“{dimension}”是必录项。", 11, "inferred"
    ),
    "dimension_not_found": MessageText(
        "{where}核算维度“{caption}”的值[{value}]在系统中不存在。", 11, "inferred"
    ),
    "dimension_forbidden": MessageText("{where}核算维度“{caption}”的值[{value}]已被禁用。", 11, "inferred"),
    "amount_precision": MessageText(
        "{where}{caption}{amount}的小数位数超过币别[{currency}]的金额精度（{precision}位）。", 11, "inferred"
    ),
    "line_without_amount": MessageText("{where}借方金额和贷方金额不能同时为零。", 11, "inferred"),
    "line_both_sides": MessageText("{where}借方金额和贷方金额不能同时有值。", 11, "inferred"),
    "period_closed": MessageText(
        "账簿[{book}]的{year}年第{period}期已结账，不能在该期间新增或修改凭证。", 11, "inferred"
    ),
    "period_before_start": MessageText(
        "凭证日期{date}早于账簿[{book}]的启用期间（{year}年第{period}期）。", 11, "inferred"
    ),
    "voucher_period_closed_op": MessageText(
        "凭证所在期间{year}年第{period}期已结账，不能{operation}。", 11, "inferred"
    ),
    "voucher_self_audit": MessageText("凭证的审核人不能与制单人相同。", 11, "inferred"),
    # --- AP / AR / CN bills (§7.4) ----------------------------------------------------------------
    "bill_no_entries": MessageText("{form_name}的{entity}不能为空。", 11, "inferred"),
    "amount_mismatch": MessageText(
        "{where}{total_caption}{total}不等于{net_caption}{net}与{tax_caption}{tax}之和。", 11, "inferred"
    ),
    "amount_not_positive": MessageText("{where}{caption}必须大于0。", 11, "inferred"),
    "amount_zero": MessageText("{where}{caption}不能为0。", 11, "inferred"),
    "bill_period_closed": MessageText(
        "{caption}{date}所在的{year}年第{period}期已结账，不能保存{form_name}。", 11, "inferred"
    ),
    # --- status operations: Submit, Audit, UnAudit, Delete, Forbid, … (§5.2, §6.4, §6.8) ------------
    "operation_success": MessageText("单据编号为“{number}”的{form_name}，{operation}成功！", 0, "verbatim"),
    "already_audited": MessageText("单据编号为“{number}”的{form_name}，单据已经审核！", 11, "verbatim"),
    "status_refused": MessageText(
        "单据编号为“{number}”的{form_name}，单据状态为“{status}”，不能{operation}！", 11, "inferred"
    ),
    "draft_not_saved": MessageText(
        "单据编号为“{number}”的{form_name}是暂存单据，请先保存再{operation}！", 11, "inferred"
    ),
    "record_referenced": MessageText(
        "{form_name}“{number}”已被{other_form}“{other_number}”引用，不能{operation}！", 11, "inferred"
    ),
    "operation_not_supported": MessageText("业务对象“{form_id}”不支持操作“{operation}”。", 4, "inferred"),
    "operation_not_available": MessageText(
        "业务对象“{form_id}”没有“{operation}”操作，不可操作。", 12, "inferred"
    ),
    "operation_nothing_selected": MessageText("没有找到需要{operation}的数据。", 10, "inferred"),
    "selection_missing": MessageText("data 数据包中的参数 Numbers 和 Ids 不能同时为空", 8, "inferred"),
    "view_key_missing": MessageText("data 数据包中的参数 Number 和 Id 不能同时为空", 8, "inferred"),
    # --- Allocate / CancelAllocate (§6.10) --------------------------------------------------------
    "allocate_unaudited": MessageText("{form_name}“{number}”未审核，不能分配。", 11, "inferred"),
    "allocate_org_missing": MessageText("内码为{org}的组织机构不存在。", 10, "inferred"),
    "allocate_exists": MessageText("{form_name}“{number}”已分配到组织“{org}”。", 11, "inferred"),
    "allocation_missing": MessageText("{form_name}“{number}”未分配到组织“{org}”。", 10, "inferred"),
    "allocation_done": MessageText("{form_name}“{number}”{operation}组织“{org}”成功！", 0, "inferred"),
    # --- GetSysReportData (§6.12) ------------------------------------------------------------------
    "report_not_supported": MessageText("沙箱暂不支持报表“{form_id}”。", 4, "inferred"),
    "report_period_invalid": MessageText("起始期间{start}晚于结束期间{end}。", 8, "inferred"),
}


def text(message_key: str, /, **values: Any) -> str:
    """The message `message_key` with its placeholders filled in."""
    return MESSAGES[message_key].template.format(**values)


def code(message_key: str) -> int:
    """The MsgCode the message `message_key` travels with."""
    return MESSAGES[message_key].msg_code
