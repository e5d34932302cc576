"""Canonical business documents and value types. Pure: imports nothing else of yecai, does no I/O."""
