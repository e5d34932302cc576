"""Postings (with their request and response), posting lines, bindings, documents, records and the
audit log are kept for good (会计档案: 30 years and more): no code in yecai deletes them.

Checked on the source: every SQLAlchemy `delete(<table>)`, every `session.delete(…)` and every SQL
text that deletes or truncates. The few modules that delete rows at all (expired web sessions,
forgotten sign-in failures, released job leases, replaced secrets, import locks, mapping rows) are
listed with their reason, so a new one is looked at before it lands. A setting that would put a
retention period on anything must default to at least 30 years.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from yecai.settings import Settings

PACKAGE = Path(__file__).resolve().parents[2] / "yecai"

# the ORM classes and table names of what is kept for good
PROTECTED_CLASSES = {
    "Posting",
    "PostingLine",
    "Binding",
    "AuditEntry",
    "Document",
    "Record",
    "Run",
    "WebhookEvent",
}
PROTECTED_TABLES = {
    "postings", "posting_lines", "bindings", "audit_log", "documents", "records", "runs", "webhook_events"
}  # fmt: skip

# modules that delete rows, and the rows they delete (none of them kept records)
DELETERS = {
    "yecai/auth/users.py": "web sessions, project grants and sign-in failures of a user",
    "yecai/auth/sessions.py": "expired or signed-out web sessions, revoked API tokens",
    "yecai/jobs/leases.py": "released job leases (one row per running job)",
    "yecai/jobs/deadletters.py": "the lease of a job a dead letter is replayed for",
    "yecai/secrets.py": "a connection secret replaced or removed by a person",
    "yecai/files/locks.py": "file import locks released",
    "yecai/files/mappings.py": "column templates a person deletes",
    "yecai/services/connections.py": "a connection secret removed (SecretBox.delete)",
    # Kingdee's Delete WebAPI on a voucher not yet audited that is rewritten; the posting rows stay
    "yecai/sync/lifecycle.py": "KingdeeClient.delete of an unaudited voucher (rows kept)",
    "yecai/sync/sending.py": "KingdeeClient.delete of an unaudited voucher (rows kept)",
    # HTTP DELETE routes (@router.delete): sign out, an API token, a secret, a column template
    "yecai/web/api/admin.py": "HTTP DELETE route: an API token",
    "yecai/web/api/configure.py": "HTTP DELETE routes: a connection secret, a column template",
    "yecai/web/api/session.py": "HTTP DELETE route: sign out",
}
# the sandboxes keep their own emulated systems' data, not yecai's books
SKIP = ("yecai/sandbox/",)

SQL_DELETE = re.compile(r"\b(?:delete\s+from|truncate(?:\s+table)?)\s+\"?(\w+)", re.IGNORECASE)


def _modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if relative.startswith(SKIP):
            continue
        found.append((relative, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _deletions(tree: ast.Module) -> tuple[list[str], int, list[str]]:
    """(targets of delete(X), count of x.delete(…) calls, tables in SQL text that deletes)."""
    targets, method_calls, in_sql = [], 0, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "delete" and node.args:
                targets.append(_name(node.args[0]))
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "delete":
                method_calls += 1
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            in_sql.extend(m.group(1).lower() for m in SQL_DELETE.finditer(node.value))
    return targets, method_calls, in_sql


def test_nothing_deletes_postings_bindings_documents_records_or_the_audit_log() -> None:
    deleting = set()
    for relative, tree in _modules():
        targets, method_calls, in_sql = _deletions(tree)
        assert not PROTECTED_CLASSES & set(targets), f"{relative} deletes {PROTECTED_CLASSES & set(targets)}"
        assert not PROTECTED_TABLES & set(in_sql), (
            f"{relative} deletes {PROTECTED_TABLES & set(in_sql)} in SQL"
        )
        if targets or method_calls or in_sql:
            deleting.add(relative)
    unexplained = deleting - DELETERS.keys()
    assert not unexplained, f"modules that delete rows, not yet reviewed for retention: {sorted(unexplained)}"


def test_the_scan_sees_a_deletion() -> None:
    # the scan must recognise each form it guards against
    code = (
        "from sqlalchemy import delete, text\n"
        "def prune(session, cutoff):\n"
        "    session.execute(delete(Posting).where(Posting.created_at < cutoff))\n"
        "    session.execute(text('DELETE FROM audit_log WHERE at < :c'))\n"
        "    session.delete(binding)\n"
    )
    targets, method_calls, in_sql = _deletions(ast.parse(code))
    assert targets == ["Posting"]
    assert method_calls == 1
    assert in_sql == ["audit_log"]


def test_a_retention_setting_defaults_to_at_least_thirty_years() -> None:
    periods = {
        name: field.default
        for name, field in Settings.model_fields.items()
        if re.search(r"retention|retain|keep|prune|purge|expire", name)
    }
    for name, default in periods.items():
        days = default.days if hasattr(default, "days") else default
        assert days is None or days >= 30 * 365, f"{name} defaults to {default}: less than 30 years"
