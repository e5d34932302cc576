"""yecai's own store: SQLAlchemy 2 tables (one module per role, gathered by `schema`), Alembic
migrations, runs, and the small helpers every race is settled with (`inserts`, `clock`).

SQLite (WAL) is the embedded default; PostgreSQL (psycopg 3) serves production. Every table and
query here runs unchanged on both.
"""
