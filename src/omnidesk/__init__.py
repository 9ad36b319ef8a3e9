"""OmniDesk: an open-source AI customer service system."""

__version__ = "0.1.0"
