"""Conversations (会话) and their messages."""
