"""Planted data and users for the web tests: two projects, postings in several states, a dead
letter, a workspace whose sync job has an editable mapping file, and one user (with an API token)
per role — pm1 limited to project P1, pm2 to P2."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

from yecai import jsonutil
from yecai.auth import sessions, users
from yecai.auth.principal import SYSTEM
from yecai.domain.documents import CostRecord
from yecai.jobs.deadletters import bury
from yecai.jobs.failures import JobFailure
from yecai.mapping.rules import default_mapping
from yecai.secrets import SecretBox, load_key
from yecai.settings import Settings
from yecai.store.db import Store
from yecai.store.tables import Document, Posting, PostingLine, Record

PASSWORD = "Correct-Horse-9"
ROLE_USERS = {
    "admin": ("admin", ()),
    "integrator": ("integrator", ()),
    "finance": ("finance", ()),
    "pm1": ("project_manager", ("P1",)),
    "pm2": ("project_manager", ("P2",)),
    "auditor": ("auditor", ()),
}


@dataclass
class Planted:
    documents: dict[str, int] = field(default_factory=dict)  # name → document id
    postings: dict[str, int] = field(default_factory=dict)  # name → posting id
    dead_letter: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # username → bearer secret
    settings: Settings | None = None


def _cost(key: str, project: str, amount: str) -> dict[str, str]:
    data = {
        "source_key": key,
        "project_code": project,
        "category": "labour",
        "business_date": "2026-10-05",
        "amount": amount,
    }
    return CostRecord.model_validate(data).model_dump(mode="json", exclude_none=True)


def _document(
    session: object, *, kind: str, key: str, project: str, amount: str | None, data: dict
) -> Document:
    record = Record(
        connection="pm",
        stream=f"{kind}s",
        source_key=key,
        content_hash=jsonutil.content_hash(data),
        payload=jsonutil.dumps(data),
        status="valid",
    )
    session.add(record)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    document = Document(
        record_id=record.id,
        connection="pm",
        kind=kind,
        source_key=key,
        version=record.content_hash,
        project_code=project,
        business_date=dt.date(2026, 10, 5),
        category="labour" if kind == "cost_record" else None,
        amount=Decimal(amount) if amount else None,
        data=jsonutil.dumps(data),
    )
    session.add(document)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    return document


def _posting(
    session: object, *, key: str, state: str, documents: list[Document], number: str | None, **extra: object
) -> Posting:
    total = sum((d.amount or Decimal(0) for d in documents), Decimal(0))
    posting = Posting(
        posting_key=key,
        connection="kd",
        rule_set="cost_actuals",
        form_id="GL_VOUCHER",
        group_key=key,
        business_date=dt.date(2026, 10, 5),
        state=state,
        debit_total=total,
        credit_total=total,
        payload=jsonutil.dumps({"Model": {"FBillHead": key}}),
        response=jsonutil.dumps({"Result": {"ResponseStatus": {"IsSuccess": state == "posted"}}}),
        kingdee_id="100" + key[-1] if number else None,
        kingdee_number=number,
        attempts=1,
        **extra,
    )
    session.add(posting)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    for index, document in enumerate(documents, start=1):
        session.add(  # type: ignore[attr-defined]
            PostingLine(
                posting_id=posting.id,
                document_id=document.id,
                rule_set="cost_actuals",
                line_no=index,
                amount=document.amount,
            )
        )
    return posting


def plant(store: Store, workdir: Path) -> Planted:
    planted = Planted()
    with store.transaction() as session:
        for code, name in (("P1", "一号楼工程"), ("P2", "二号桥工程")):
            project = _document(
                session,
                kind="project",
                key=code,
                project=code,
                amount=None,
                data={"code": code, "name": name},
            )
            planted.documents[f"project_{code}"] = project.id
        c1 = _document(
            session,
            kind="cost_record",
            key="C1",
            project="P1",
            amount="1200.50",
            data=_cost("C1", "P1", "1200.50"),
        )
        c2 = _document(
            session,
            kind="cost_record",
            key="C2",
            project="P2",
            amount="800.00",
            data=_cost("C2", "P2", "800.00"),
        )
        c3 = _document(
            session,
            kind="cost_record",
            key="C3",
            project="P2",
            amount="99.99",
            data=_cost("C3", "P2", "99.99"),
        )
        c4 = _document(
            session,
            kind="cost_record",
            key="C4",
            project="P1",
            amount="10.00",
            data=_cost("C4", "P1", "10.00"),
        )
        planted.documents.update(C1=c1.id, C2=c2.id, C3=c3.id, C4=c4.id)
        planted.postings["p1_posted"] = _posting(
            session, key="key-p1", state="posted", documents=[c1], number="JZ-0001"
        ).id
        planted.postings["p2_posted"] = _posting(
            session, key="key-p2", state="posted", documents=[c2], number="JZ-0002"
        ).id
        planted.postings["p2_failed"] = _posting(
            session,
            key="key-f2",
            state="failed",
            documents=[c3],
            number=None,
            error_fault="data",
            error_action="fail",
            error_code=11,
            error_message="物料不存在 / no such material",
        ).id
        planted.postings["p1_waiting"] = _posting(
            session, key="key-w1", state="awaiting_approval", documents=[c4], number=None
        ).id
    planted.dead_letter = (
        bury(
            store,
            job="books",
            task_id=None,
            since=None,
            attempts=3,
            failure=JobFailure(
                "金蝶连接超时",
                "Kingdee timed out",
                "retry",
                "transient",
                "KingdeeError",
                {"connection": "kd"},
            ),
        )
        or 0
    )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "mapping.yaml").write_text(
        yaml.safe_dump(default_mapping().model_dump(mode="json", exclude_defaults=True), allow_unicode=True),
        encoding="utf-8",
    )
    workspace = {
        "connections": {
            "pm": {
                "kind": "source",
                "connector": "pm_sandbox",
                "base_url": "http://127.0.0.1:9",
                "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"},
            },
            "kd": {
                "kind": "kingdee",
                "server_url": "http://127.0.0.1:9/K3Cloud/",
                "acct_id": "a",
                "user_name": "u",
                "app_id": "1_x",
                "app_secret": "${KD_SECRET}",
            },
            # a robot nobody answers for (port 9: connection refused), to exercise the test send
            "ops_robot": {
                "kind": "alert",
                "channel": "wecom",
                "webhook_url": "${WECOM_URL}",
                "timeout_seconds": 2,
            },
        },
        "syncs": {"books": {"source": "pm", "target": "kd", "mapping": "mapping.yaml"}},
        # the robot above is on 127.0.0.1 over http: reachable only through the explicit allow
        "alerts": {"outbound": {"allow_hosts": [{"host": "127.0.0.1", "private": True, "http": True}]}},
    }
    (workdir / "yecai.yaml").write_text(yaml.safe_dump(workspace, allow_unicode=True), encoding="utf-8")
    planted.settings = Settings(workspace=workdir / "yecai.yaml", workdir=workdir)
    SecretBox(store, load_key(workdir)).set(
        "ops_robot", "WECOM_URL", "http://127.0.0.1:9/cgi-bin/webhook/send?key=k"
    )
    for username, (role, projects) in ROLE_USERS.items():
        users.create_user(
            store, username=username, role=role, projects=projects, password=PASSWORD, by=SYSTEM
        )
        _view, secret = sessions.create_token(store, username=username, name="tests", by=SYSTEM)
        planted.tokens[username] = secret
    return planted
