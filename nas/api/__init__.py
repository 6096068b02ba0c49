"""REST API and dashboard: ``create_app(Settings(...))``; ``nas serve`` runs it with local workers."""

from nas.api.app import create_app
from nas.api.settings import Settings

__all__ = ["Settings", "create_app"]
