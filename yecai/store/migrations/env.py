"""Alembic environment: runs migrations on the connection handed over by yecai.store.db.migrate,
or on `sqlalchemy.url` when Alembic is called from its own command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from yecai.store.schema import metadata

config = context.config
target_metadata = metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
