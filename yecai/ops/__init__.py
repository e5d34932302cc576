"""Operations: what the person running yecai in production does beside syncing — archive old raw
records (`archive`), and the other care of an installation. Called by services; no web or CLI here.
"""
