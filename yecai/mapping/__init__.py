"""Mapping tables and rule sets → planned vouchers. Pure functions: no database, no network."""
