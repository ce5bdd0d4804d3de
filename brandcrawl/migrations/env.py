"""Alembic environment: runs on the connection Store.upgrade() hands over, or on BRANDCRAWL_DB_URL."""

from alembic import context
from sqlalchemy import create_engine

from brandcrawl.storage.models import Base
from brandcrawl.storage.store import db_url_from_env

target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or db_url_from_env())
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
