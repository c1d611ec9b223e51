"""Configuration: settings read once from the environment, and the logging chain."""

from config.settings import Settings

__all__ = ["Settings"]
