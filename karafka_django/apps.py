"""The app: its defaults, its system checks, and each installed app's ``consumers`` modules."""

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class KarafkaAppConfig(AppConfig):
    name = "karafka_django"
    verbose_name = "Karafka"
    # What the migrations were made with: a project whose DEFAULT_AUTO_FIELD differs gets no warning
    # and no pending migration.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

        # Like admin.py: every installed app's consumers.py may declare @route consumers.
        autodiscover_modules("consumers")

        from .conf import get_config
        from .instrumentation import monitor
        from .instrumentation.listeners import subscribe_configured

        subscribe_configured(monitor, get_config().listeners)
