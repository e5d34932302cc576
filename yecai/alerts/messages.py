"""What an alert says: severity, a bilingual title and body rendered from the event's payload, and
the de-duplication key that names "the same problem".

Rendering is pure: the payload's identifiers become labelled lines (Chinese first, English beside,
or one language per channel), keys that smell of credentials are dropped, and every line passes
through `yecai.secrets.redact` with the secret values the caller knows, so nothing secret reaches
a group chat or a mailbox even when an error message quoted it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from yecai import labels
from yecai.localtime import shown
from yecai.observability.events import EVENTS
from yecai.secrets import redact

Language = Literal["zh", "en", "both"]
SEVERITIES = ("info", "warning", "error", "critical")
SEVERITY_NAMES = {severity: labels.VOCABULARY["severity"][severity] for severity in SEVERITIES}
# How bad each event is; a channel's min_severity filters on it. Unknown events are warnings.
SEVERITY: dict[str, str] = {
    "job.retrying": "info",
    "connection.resumed": "info",
    "alert.test": "info",
    "job.attention": "warning",
    "lease.taken_over": "warning",
    "run.stalled": "warning",
    "job.dead": "error",
    "job.lost": "error",
    "run.failed": "error",
    "kingdee.error": "error",
    "connection.paused": "critical",
    "kingdee.disconnected": "critical",
}

# Payload keys that identify "the same problem" per event: a second alert with equal values
# within a channel's dedupe window is not sent again. Kingdee problems belong to the connection
# (several jobs may post to it), job problems to the job.
IDENTITY: dict[str, tuple[str, ...]] = {
    "kingdee.error": ("connection", "form", "msg_code"),
    "kingdee.disconnected": ("connection",),
    "connection.paused": ("connection",),
    "connection.resumed": ("connection",),
    "alert.test": ("channel", "nonce"),
}
JOB_IDENTITY = ("job",)
DEFAULT_IDENTITY = ("connection", "job", "form", "msg_code")
KEY_LENGTH = 200  # alert_deliveries.dedupe_key

LABELS: dict[str, tuple[str, str]] = {
    "severity": ("级别", "severity"),
    "time": ("时间", "time"),
    "event": ("事件", "event"),
    "job": ("作业", "job"),
    "connection": ("连接", "connection"),
    "channel": ("告警通道", "channel"),
    "run_id": ("运行", "run"),
    "dead_letter_id": ("死信", "dead letter"),
    "attempt": ("第几次", "attempt"),
    "attempts": ("已尝试", "attempts"),
    "max_attempts": ("最多尝试", "max attempts"),
    "retry_in_seconds": ("重试等待（秒）", "retry in (s)"),
    "form": ("表单", "form"),
    "msg_code": ("金蝶错误码", "Kingdee MsgCode"),
    "postings": ("涉及过账数", "postings"),
    "message": ("说明", "message"),
    "holder": ("执行进程", "worker"),
    "state": ("状态", "state"),
    "started_at": ("开始于", "started"),
    "heartbeat_at": ("最后心跳", "last heartbeat"),
    "silent_seconds": ("无心跳（秒）", "silent for (s)"),
    "failures": ("连续失败", "failures in a row"),
    "by": ("操作人", "by"),
    "reason": ("原因", "reason"),
    "nonce": ("编号", "id"),
    "context_connection": ("出错连接", "failing connection"),
    "context_stream": ("数据流", "stream"),
    "context_source_key": ("源单据键", "source key"),
    "context_form": ("表单", "form"),
    "context_posting_key": ("过账键", "posting key"),
}
# What to do, by the error's fault (errors.Fault)
HINTS: dict[str, tuple[str, str]] = {
    "configuration": (
        "请检查配置：连接、映射表或规则集",
        "fix the configuration: connection, mapping table or rule set",
    ),
    "data": ("请修正源系统中的数据", "fix the data in the source system"),
    "remote": ("对方系统拒绝或出错，请查看错误说明", "the other system refused or failed; see the error"),
    "transient": ("暂时性问题，系统会自动重试", "transient; yecai retries by itself"),
}
# What to do next, by event, where the fault alone would mislead (a transient error that ended
# in a dead letter is no longer retried by itself).
NEXT_STEPS: dict[str, tuple[str, str]] = {
    "job.dead": (
        "排除原因后重放死信：yecai jobs replay {dead_letter_id}",
        "once fixed, replay the dead letter: yecai jobs replay {dead_letter_id}",
    ),
    "job.lost": (
        "排除原因后重放死信：yecai jobs replay {dead_letter_id}",
        "once fixed, replay the dead letter: yecai jobs replay {dead_letter_id}",
    ),
    "connection.paused": (
        "排除原因后恢复连接：yecai jobs resume {connection}",
        "once fixed, resume the connection: yecai jobs resume {connection}",
    ),
}
SPECIAL = ("error_zh", "error_en", "action", "fault")
SENSITIVE = ("secret", "password", "passwd", "token", "credential", "cookie", "authorization")
VALUE_LIMIT = 500


def severity_of(event: str) -> str:
    return SEVERITY.get(event, "warning")


def at_least(severity: str, minimum: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(minimum)


def dedupe_key(event: str, payload: Mapping[str, Any]) -> str:
    """event|field=value|… over the identifying fields present; hashed when too long for the column."""
    if event in IDENTITY:
        fields = IDENTITY[event]
    elif event.split(".", 1)[0] in ("job", "lease", "run"):
        fields = JOB_IDENTITY
    else:
        fields = DEFAULT_IDENTITY
    parts = [event] + [f"{name}={payload[name]}" for name in fields if payload.get(name) not in (None, "")]
    key = "|".join(parts)
    if len(key) > KEY_LENGTH:
        digest = hashlib.sha256(key.encode()).hexdigest()
        key = f"{key[: KEY_LENGTH - 65]}#{digest}"
    return key


@dataclass(frozen=True, slots=True)
class AlertText:
    """One alert rendered for one language: a title line and body lines (plain text)."""

    event: str
    severity: str
    title: str
    lines: tuple[str, ...]

    def markdown(self) -> str:
        """Heading and a list: the subset DingTalk, WeCom and most clients render alike."""
        return f"### {self.title}\n\n" + "\n".join(f"- {line}" for line in self.lines)

    def plain(self) -> str:
        return self.title + "\n\n" + "\n".join(self.lines)


def _sensitive(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SENSITIVE)


def _label(key: str, language: Language) -> str:
    """`作业：` / `job: ` / `作业 job: ` (both: Chinese first, English beside)."""
    zh, en = LABELS.get(key, (key, key))
    if language == "zh":
        return f"{zh}："
    if language == "en":
        return f"{en}: "
    return f"{en}: " if zh == en else f"{zh} {en}: "


# payload keys whose values are codes, by the vocabulary that names them (yecai.labels)
CODED: dict[str, str] = {
    "form": "form",
    "context_form": "form",
    "context_stream": "stream",
    "state": "state",
    "kind": "run_kind",
}


def _words(key: str, value: Any, language: Language) -> Any:
    """A coded value in words (GL_VOUCHER → 记账凭证); any other value as it is."""
    prefix = CODED.get(key)
    if prefix is None or not isinstance(value, str):
        return value
    return labels.both(prefix, value) if language == "both" else labels.label(prefix, value, language)


def _value(value: Any) -> str:
    text = " ".join(str(value).split())  # one line: chat markdown breaks on stray newlines
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def render(
    event: str,
    payload: Mapping[str, Any],
    *,
    language: Language = "both",
    secrets: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> AlertText:
    """The alert for `event` in `language`, with every secret value of `secrets` redacted."""
    severity = severity_of(event)
    zh, en = EVENTS.get(event, (event, event))
    severity_zh, severity_en = SEVERITY_NAMES[severity]
    chinese, english = language in ("zh", "both"), language in ("en", "both")
    if language == "zh":
        title, level = f"【yecai】{zh}", severity_zh
    elif language == "en":
        title, level = f"[yecai] {en}", severity_en
    else:
        title, level = f"【yecai】{zh} / {en}", f"{severity_zh} {severity_en}"
    lines = [_label("severity", language) + level]
    for key, value in payload.items():
        if key in SPECIAL or value in (None, "") or _sensitive(key):
            continue
        lines.append(_label(key, language) + _value(_words(key, value, language)))
    # The error and what to do are whole sentences: one line per language, Chinese first.
    if chinese and payload.get("error_zh"):
        lines.append("错误：" + _value(payload["error_zh"]))
    if english and payload.get("error_en"):
        lines.append("error: " + _value(payload["error_en"]))
    hint = HINTS.get(str(payload.get("fault") or ""))
    if event in NEXT_STEPS:
        fields = {key: _value(value) for key, value in payload.items()}
        fields.setdefault("dead_letter_id", "ID")
        fields.setdefault("connection", "-")
        step_zh, step_en = NEXT_STEPS[event]
        fixed = hint if hint and payload.get("fault") != "transient" else None
        hint = (
            (f"{fixed[0]}；" if fixed else "") + step_zh.format_map(fields),
            (f"{fixed[1]}; " if fixed else "") + step_en.format_map(fields),
        )
    if hint and chinese:
        lines.append("处理：" + hint[0])
    if hint and english:
        lines.append("what to do: " + hint[1])
    lines.append(_label("time", language) + shown(now or dt.datetime.now(dt.UTC), seconds=True))
    lines.append(_label("event", language) + event)
    known = list(secrets)
    return AlertText(event, severity, redact(title, known), tuple(redact(line, known) for line in lines))
