"""Alembic migrations of the store: env.py and one file per revision under versions/."""
