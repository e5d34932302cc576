"""Target cost (目标成本) of a project: one budget line per cost category.

The target is 86–94 % of the tax-exclusive contract price, split across the six categories in the
proportions construction budgets show (material about half, labour a fifth, …). The lines add up
to the target to the cent. Revisions later (设计变更, 材料调差) are edits that raise a version.
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from yecai.sandbox.pm.models import CENT, CostCategory, Project
from yecai.sandbox.pm.plan import VAT_SERVICES
from yecai.sandbox.pm.records import BudgetLine
from yecai.sandbox.pm.seeding import later

# Typical shares (‰) of the target cost; each project varies them by up to a fifth.
_SHARES: dict[CostCategory, int] = {
    CostCategory.LABOUR: 200,
    CostCategory.MATERIAL: 500,
    CostCategory.MACHINERY: 70,
    CostCategory.SUBCONTRACT: 120,
    CostCategory.OTHER_DIRECT: 40,
    CostCategory.INDIRECT: 70,
}
_NUMBERS = {category: index for index, category in enumerate(_SHARES, start=1)}


def budget_id(project_code: str, category: CostCategory) -> str:
    return f"YS-{project_code}-{_NUMBERS[category]:02d}"


def make_budget(rng: random.Random, project: Project, contract_created: datetime) -> list[BudgetLine]:
    target = (project.contract_amount / (1 + VAT_SERVICES) * rng.randint(86, 94) / 100).quantize(
        CENT, ROUND_HALF_UP
    )
    weights = {category: share * rng.randint(80, 120) for category, share in _SHARES.items()}
    total_weight = sum(weights.values())
    stamp = later(rng, contract_created, 3, 20)
    lines: list[BudgetLine] = []
    allocated = Decimal(0)
    categories = list(_SHARES)
    for category in categories:
        if category is categories[-1]:
            amount = target - allocated  # the last line takes the rounding, so lines add up exactly
        else:
            amount = (target * weights[category] / total_weight).quantize(CENT, ROUND_HALF_UP)
        allocated += amount
        lines.append(
            BudgetLine(
                budget_id=budget_id(project.project_code, category),
                project_code=project.project_code,
                category=category,
                category_name=category.chinese,
                amount=amount,
                version="V1",
                description=f"目标成本—{category.chinese}（原始版）",
                created_at=stamp,
                updated_at=stamp,
            )
        )
    return lines
