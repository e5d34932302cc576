"""sandbox.kingdee — a faithful emulator of the Kingdee K/3 Cloud (金蝶云星空) WebAPI.

It speaks the wire protocol the official SDK and the login-based clients speak (signed headers,
AuthService logins, sessions, envelopes, MsgCodes) over one SQLite-backed data centre seeded from
`seed.yaml`: vouchers, AP/AR/CN bills and their base data with Kingdee's status rules. Start it with
`start_sandbox(data_dir)` or `yecai sandbox kingdee`; see docs/sandbox-kingdee.md.
"""

from __future__ import annotations

from yecai.sandbox.kingdee.app import SandboxServer, create_app, start_sandbox
from yecai.sandbox.kingdee.datadir import credentials, ensure_data_dir, password_credentials
from yecai.sandbox.kingdee.services import CallRecord, KingdeeSandbox, WireReply, WireRequest
from yecai.sandbox.kingdee.settings import SandboxSettings

__all__ = [
    "CallRecord",
    "KingdeeSandbox",
    "SandboxServer",
    "SandboxSettings",
    "WireReply",
    "WireRequest",
    "create_app",
    "credentials",
    "ensure_data_dir",
    "password_credentials",
    "start_sandbox",
]
