"""sandbox.pm — a reference construction project-management system, shipped as product.

Deterministic Chinese construction data (projects; daily 人工费 / 材料费 / 机械使用费 cost records)
served over a Bearer-protected REST API with OpenAPI docs, and also available as Python objects
so tests, the demo and benchmarks can compute expected totals without HTTP. See docs/sandbox-pm.md.
"""

from __future__ import annotations

from yecai.sandbox.pm.app import DEFAULT_TOKEN, build_app, create_app
from yecai.sandbox.pm.data import generate
from yecai.sandbox.pm.models import CostCategory, CostRecord, Dataset, Project, ProjectStatus
from yecai.sandbox.pm.server import start_sandbox

__all__ = [
    "DEFAULT_TOKEN",
    "CostCategory",
    "CostRecord",
    "Dataset",
    "Project",
    "ProjectStatus",
    "build_app",
    "create_app",
    "generate",
    "start_sandbox",
]
