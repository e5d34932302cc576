"""The pull/push framework: declarative streams, pagination, cursors and look-back, webhooks.

A connector declares its streams; this framework owns HTTP, retries, paging and stream state —
cursors, the resume point and the look-back window (`state.py`; the dlt / Singer SDK lesson) — so a
new PM system is a few small declarations.
"""
