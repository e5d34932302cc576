"""Hostile values in documents: lookalike codes and business dates no business has.

Codes and keys are NFKC-normalised, so `ＸＭ２０２６００１` and `XM2026001` are one project, and any
invisible or control character (U+200B, U+202E, U+0000, …) is refused rather than making a second,
lookalike project. Business dates outside the window (2000-01-01 .. today + 2 years by default,
configurable) are refused.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.domain.test_documents import GOOD
from yecai.domain.documents import CostRecord, DateWindow, Invoice, Project, validate
from yecai.settings import Settings

INVISIBLE = st.characters(categories=["Cc", "Cf", "Co", "Zl", "Zp"])
VISIBLE = st.text(st.characters(categories=["L", "N", "Pd"]), min_size=1, max_size=12)


@given(VISIBLE, INVISIBLE, VISIBLE)
def test_a_code_with_an_invisible_or_control_character_is_refused(head: str, hidden: str, tail: str) -> None:
    project, issues = validate(Project, {"code": head + hidden + tail, "name": "工程"})
    assert project is None
    assert issues[0].field == "code"
    assert "不可见" in issues[0].zh
    assert "invisible" in issues[0].en
    record, issues = validate(CostRecord, {**GOOD, "project_code": head + hidden + tail})
    assert record is None
    assert issues[0].field == "project_code"


@given(VISIBLE)
def test_nfkc_equivalent_codes_are_one_code(code: str) -> None:
    normal = unicodedata.normalize("NFKC", code)
    first, _ = validate(Project, {"code": code, "name": "工程"})
    second, _ = validate(Project, {"code": normal, "name": "工程"})
    if first is None or second is None:  # NFKC may make a code too long or empty: refused both ways
        assert first is None
        assert second is None
        return
    assert first.code == second.code == normal.strip()


def test_the_zero_width_space_lookalike_is_refused_everywhere() -> None:
    for model, data in (
        (Project, {"code": "XM2026001\u200b", "name": "工程"}),
        (CostRecord, {**GOOD, "project_code": "XM2026001\u200b"}),
        (CostRecord, {**GOOD, "source_key": "CB\u202e-1"}),
        (
            Invoice,
            {
                "invoice_no": "12345678",
                "issue_date": "2026-10-05",
                "direction": "in",
                "project_code": "XM\u200b1",
            },
        ),
    ):
        document, issues = validate(model, data)
        assert document is None
        assert any("U+200B" in i.en or "U+202E" in i.en for i in issues), issues
    fullwidth, _ = validate(CostRecord, {**GOOD, "project_code": "ＸＭ２０２６００１"})
    assert fullwidth is not None
    assert fullwidth.project_code == "XM2026001"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_business_dates_outside_the_window_are_refused(day: str) -> None:
    record, issues = validate(CostRecord, {**GOOD, "business_date": day})
    assert record is None
    assert issues[0].field == "business_date"
    assert "业务日期" in issues[0].zh
    assert "outside" in issues[0].en


def test_the_default_window_reaches_two_years_ahead() -> None:
    today = dt.date.today()
    near, _ = validate(CostRecord, {**GOOD, "business_date": (today + dt.timedelta(days=700)).isoformat()})
    assert near is not None
    far, issues = validate(
        CostRecord, {**GOOD, "business_date": (today + dt.timedelta(days=800)).isoformat()}
    )
    assert far is None
    assert issues


def test_the_window_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YECAI_BUSINESS_DATE_MIN", "1990-01-01")
    monkeypatch.setenv("YECAI_BUSINESS_DATE_MAX", "2030-12-31")
    window = Settings().business_dates()
    assert window == DateWindow(dt.date(1990, 1, 1), dt.date(2030, 12, 31))
    old, issues = validate(CostRecord, {**GOOD, "business_date": "1995-06-01"}, window=window)
    assert old is not None, issues
    late, _ = validate(CostRecord, {**GOOD, "business_date": "2031-01-01"}, window=window)
    assert late is None


def test_a_stored_document_reloads_without_the_window() -> None:
    # the gate is at the way in: re-reading a stored document never fails on today's window
    record = CostRecord.model_validate({**GOOD, "business_date": "1999-12-31"})
    assert record.business_date == dt.date(1999, 12, 31)


def test_a_stored_code_reloads_as_it_was_stored() -> None:
    # a document stored before the rule keeps its key when the pipeline re-reads it
    project = Project.model_validate({"code": "XM2026001\u200b", "name": "工程"})
    assert project.code == "XM2026001\u200b"
