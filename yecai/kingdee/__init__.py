"""Kingdee K/3 Cloud WebAPI: signing, the client, response interpretation and form payload builders.

This package speaks the protocol only: it never touches yecai's store (layer rule in docs/architecture.md).
"""
