from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "workforce"
    verbose_name = "Workforce"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from workforce import signals  # (connects the signal receivers)

        # After every app's migrations, so the permissions of apps above workforce exist too.
        post_migrate.connect(signals.operations_group_sync)
