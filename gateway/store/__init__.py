"""Persistence: SQLAlchemy Core tables, Alembic migrations, and the async Store."""
