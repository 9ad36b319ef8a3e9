"""Tenants, staff users, roles, teams and API keys."""
