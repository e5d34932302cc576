"""The importer's raised collector threshold is the process's: overlapping imports must put it back."""

from __future__ import annotations

import gc

from yecai.files import importer


def test_overlapping_imports_leave_the_collector_as_it_was() -> None:
    before = gc.get_threshold()
    first = importer._fewer_collections()
    second = importer._fewer_collections()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold()[0] == 50_000
    first.__exit__(None, None, None)  # the first to start ends first: the other still streams
    assert gc.get_threshold()[0] == 50_000
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_an_import_that_fails_still_puts_the_threshold_back() -> None:
    before = gc.get_threshold()
    try:
        with importer._fewer_collections():
            raise ValueError("a broken file")
    except ValueError:
        pass
    assert gc.get_threshold() == before
