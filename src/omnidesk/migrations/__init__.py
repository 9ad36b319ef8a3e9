"""Alembic migrations, shipped inside the package so an installed OmniDesk can upgrade its own database."""
