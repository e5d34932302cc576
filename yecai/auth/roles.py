"""The roles and what each may do: one table, read by the API, the console and the role-matrix test.

Permissions are coarse on purpose (read, operate, approve, configure, manage users, read the
audit log) so that a route names exactly one. `project_manager` additionally sees only the
projects assigned to the user; that filter is applied in every query through `Principal`.
"""

from __future__ import annotations

from enum import StrEnum

from yecai import labels


class Permission(StrEnum):
    READ = "read"  # dashboards, runs, records, documents, postings, mappings, reports
    OPERATE = "operate"  # run a sync now, replay or skip dead letters and postings, pause/resume
    APPROVE = "approve"  # release planned vouchers held by the approval gate
    CONFIGURE = "configure"  # mapping tables, connections and their secrets, schedules, alerts
    MANAGE_USERS = "manage_users"  # users, roles, project assignments, API tokens of others
    AUDIT = "audit"  # the audit log of everyone


class Role(StrEnum):
    ADMIN = "admin"
    INTEGRATOR = "integrator"
    FINANCE = "finance"
    PROJECT_MANAGER = "project_manager"
    AUDITOR = "auditor"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    # the implementation consultant: connects systems, edits mappings, fixes and replays failures
    Role.INTEGRATOR: frozenset({P.READ, P.OPERATE, P.CONFIGURE}),
    # accountants: everything readable, release held vouchers, replay what failed
    Role.FINANCE: frozenset({P.READ, P.OPERATE, P.APPROVE}),
    # own projects only (filtered in every query), read-only
    Role.PROJECT_MANAGER: frozenset({P.READ}),
    # read-only everything, including who changed what
    Role.AUDITOR: frozenset({P.READ, P.AUDIT}),
}

# the roles' titles are words like every other coded value's: one table, yecai.labels
ROLE_TITLES: dict[Role, tuple[str, str]] = {role: labels.VOCABULARY["role"][role.value] for role in Role}


def allows(role: Role | str, permission: Permission | str) -> bool:
    try:
        return Permission(permission) in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False  # an unknown role or permission grants nothing (fail closed)
