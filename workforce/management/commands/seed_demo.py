from typing import Any

from django.core.management.base import BaseCommand

from workforce.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, seed_demo


class Command(BaseCommand):
    help = "Create demo logins (one per role) and contractors in each state. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        created = seed_demo()
        self.stdout.write(
            f"Demo data ready ({len(created)} new accounts). Password for every demo login: {DEMO_PASSWORD}"
        )
        self.stdout.write(f"TOTP secret for ops@, ops2@, auditor@ and admin@fairtask.example: {DEMO_TOTP_SECRET}")
