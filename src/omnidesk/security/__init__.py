"""Authentication, permissions, secrets and masking."""
