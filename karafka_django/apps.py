from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class KarafkaConfig(AppConfig):
    name = "karafka_django"
    verbose_name = "Karafka"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

        # Like admin.py: every installed app's consumers.py may declare @route consumers.
        autodiscover_modules("consumers")

        from .conf import get_config
        from .instrumentation import monitor
        from .instrumentation.listeners import subscribe_configured

        subscribe_configured(monitor, get_config().listeners)
