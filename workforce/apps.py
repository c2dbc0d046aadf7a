from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "workforce"
    verbose_name = "Workforce"

    def ready(self) -> None:
        from workforce import signals  # noqa: F401  (connects the signal receivers)
