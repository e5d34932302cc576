"""Uploaded files keep their own name in messages and records, reduced to a harmless leaf."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from yecai.files.uploads import MAX_NAME_BYTES, safe_upload_name


def test_the_users_name_is_kept() -> None:
    assert safe_upload_name("成本 10月.CSV", ".csv") == "成本 10月.csv"
    assert safe_upload_name("导出.xlsx", ".xlsx") == "导出.xlsx"


def test_paths_dots_and_control_characters_are_dropped() -> None:
    assert safe_upload_name("../../etc/passwd.csv", ".csv") == "passwd.csv"
    assert safe_upload_name("C:\\Users\\财务\\成本.xlsx", ".xlsx") == "成本.xlsx"
    assert safe_upload_name("..csv", ".csv") == "upload.csv"
    assert safe_upload_name("成\x00本\u202e.csv", ".csv") == "成本.csv"
    assert safe_upload_name(None, ".xls") == "upload.xls"
    assert safe_upload_name("/", ".csv") == "upload.csv"


@given(st.text(max_size=400), st.sampled_from([".csv", ".xlsx", ".xls", ".txt"]))
def test_any_name_becomes_a_short_plain_leaf_with_its_suffix(name: str, suffix: str) -> None:
    leaf = safe_upload_name(name + suffix, suffix)
    assert leaf.endswith(suffix)
    assert "/" not in leaf
    assert "\\" not in leaf
    assert "\x00" not in leaf
    assert not leaf.startswith(".")
    assert len(leaf.encode("utf-8")) <= MAX_NAME_BYTES
    assert leaf not in (".", "..")
