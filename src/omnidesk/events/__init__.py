"""Typed events published after commit, and the buses that carry them (memory, Redis)."""
