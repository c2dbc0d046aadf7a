from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from workforce.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = "Create demo logins (one per role), contractors in each state and demo projects. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        # Each app seeds its own demo data (FAIRTASK_DEMO_SEEDERS, lower apps first), so
        # workforce never imports the apps that build on it.
        created: list[str] = []
        for path in settings.FAIRTASK_DEMO_SEEDERS:
            created += import_string(path)()
        self.stdout.write(f"Demo data ready ({len(created)} new accounts and projects).")
        self.stdout.write(f"Password for every demo login: {DEMO_PASSWORD}")
        self.stdout.write(f"TOTP secret for ops@, ops2@, auditor@ and admin@fairtask.example: {DEMO_TOTP_SECRET}")
