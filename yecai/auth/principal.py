"""Who is calling: the user, their role and — for project managers — the projects they may see.

Every service that lists or opens project data takes a `Principal` and narrows its query with
`project_clause`, so "own projects only" is enforced where the rows are read, not in templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, true

from yecai.auth.roles import Permission, Role, allows


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: Role
    projects: frozenset[str] | None  # None: every project
    via: str = "api"  # console | api | cli | system
    ip: str | None = None
    user_id: int | None = None

    def can(self, permission: Permission | str) -> bool:
        return allows(self.role, permission)

    def sees_project(self, code: str | None) -> bool:
        """A row without a project is company-wide: hidden from project-limited users."""
        if self.projects is None:
            return True
        return code is not None and code in self.projects

    def project_clause(self, column: Any) -> ColumnElement[bool]:
        """The SQL condition limiting `column` (a project code) to what this caller may see."""
        if self.projects is None:
            return true()
        if not self.projects:
            return false()
        return column.in_(sorted(self.projects))


# What the CLI and scheduled jobs act as: a person at the server's console has every right.
SYSTEM = Principal(username="system", role=Role.ADMIN, projects=None, via="system")


def cli_principal(who: str) -> Principal:
    return Principal(username=who, role=Role.ADMIN, projects=None, via="cli")
