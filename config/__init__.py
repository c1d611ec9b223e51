"""Configuration: settings read once from the environment, the logging chain, and the rules
for text from outside (``textrules``: valid Unicode, blank) that every package may import."""

from config.settings import Settings

__all__ = ["Settings"]
