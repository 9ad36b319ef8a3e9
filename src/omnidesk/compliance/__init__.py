"""Audit trail; later retention, data-subject requests, masking."""
