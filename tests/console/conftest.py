"""The assistant's tenant (tests/assistant) for the hand-over tests of the staff-console issue."""

from tests.assistant.conftest import bot_world as bot_world  # re-exported fixture
