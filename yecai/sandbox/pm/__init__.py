"""sandbox.pm — a reference construction project-management system, shipped as product.

Deterministic Chinese construction data (projects, BOQ, budgets, contracts, six cost categories,
progress, payments, invoices, real-name workers and attendance, opening balances at go-live) as a timeline served as of a
simulated clock: REST with OpenAPI, signed webhooks, Excel/CSV exports. See docs/sandbox-pm.md.
"""

from __future__ import annotations

from yecai.sandbox.pm.app import DEFAULT_TOKEN, build_app, create_app
from yecai.sandbox.pm.auth import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, AuthMode, sign
from yecai.sandbox.pm.data import generate
from yecai.sandbox.pm.exports import write_big_cost_ledger, write_exports
from yecai.sandbox.pm.models import CostCategory, CostRecord, Dataset, Project, ProjectStatus, Snapshot
from yecai.sandbox.pm.records import (
    Attendance,
    BoqItem,
    BudgetLine,
    Contract,
    Defect,
    Invoice,
    OpeningBalance,
    PaymentRequest,
    ProgressReport,
    Receipt,
    Worker,
)
from yecai.sandbox.pm.server import SandboxServer, start_sandbox
from yecai.sandbox.pm.webhooks import WebhookSettings, event_signature

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_TOKEN",
    "Attendance",
    "AuthMode",
    "BoqItem",
    "BudgetLine",
    "Contract",
    "CostCategory",
    "CostRecord",
    "Dataset",
    "Defect",
    "Invoice",
    "OpeningBalance",
    "PaymentRequest",
    "ProgressReport",
    "Project",
    "ProjectStatus",
    "Receipt",
    "SandboxServer",
    "Snapshot",
    "WebhookSettings",
    "Worker",
    "build_app",
    "create_app",
    "event_signature",
    "generate",
    "sign",
    "start_sandbox",
    "write_big_cost_ledger",
    "write_exports",
]
