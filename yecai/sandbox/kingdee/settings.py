"""Knobs of one sandbox.kingdee instance: the behaviours that are inferred rather than known.

Where the real server's behaviour is not public (WebAPI §11), the sandbox picks the
stricter plausible behaviour by default and lets a user or test switch it here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """Behaviour switches; the defaults are what docs/sandbox-kingdee.md describes."""

    # The virtual directory of the site (`/K3Cloud/…`), matched case-insensitively.
    path_prefix: str = "K3Cloud"
    # Idle seconds after which a session is forgotten; None keeps sessions until restart. Signed
    # requests re-authenticate transparently either way (§4.2); a session opened by an AuthService
    # login (ValidateUser, LoginByAppSecret, …) then answers MsgCode 1 (§4.5, §11.2).
    session_idle_seconds: float | None = 1200.0
    # lcids a data centre accepts; an invalid lcid is a credential failure (§4.2).
    accepted_lcids: frozenset[int] = frozenset({2052, 1033, 3076})
    # Refuse references to base data that is not audited (FDocumentStatus C). Real tenants usually do
    # for F7 selection; off by default so Save → use works without an Audit step [INF].
    require_audited_base_data: bool = False
    # Forbidden base data (FForbidStatus B) cannot be referenced even without IsVerifyBaseDataField:
    # a tenant's F7 lookup does not find it. False: refused only when the client asks to verify.
    refuse_forbidden_references: bool = True
    # The GL parameter "制单人可以审核自己的凭证". False: a voucher's creator cannot audit it, so an
    # integration user's IsAutoSubmitAndAudit leaves its vouchers submitted (B) but not audited.
    voucher_creator_may_audit: bool = True
    # GL_RPT_AccountBalance: count unposted vouchers when the Model does not say (FNOTPOSTVOUCHER).
    # The sandbox has no separate 过账 step: an audited voucher counts as posted.
    report_include_unposted: bool = False
    # Refuse AP/AR/CN bills dated in a period the GL has closed (a real tenant closes 应收应付 on
    # its own schedule; off by default).
    check_bill_periods: bool = False
    # Async query mode (BeginQueryImpl): how many polls answer "running" before the result.
    async_pending_polls: int = 0
    # Keep this many calls in the journal (what the server saw; for tests and the console).
    journal_size: int = 1000
    clock: Callable[[], datetime] = field(default=datetime.now)
