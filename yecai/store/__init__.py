"""yecai's own store: SQLAlchemy 2 tables, Alembic migrations and service functions.

SQLite (WAL) is the embedded default; PostgreSQL (psycopg 3) serves production. Every table and
query here runs unchanged on both.
"""
