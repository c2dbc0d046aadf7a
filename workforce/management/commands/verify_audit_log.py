from typing import Any

from django.core.management.base import BaseCommand, CommandError

from workforce.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit non-zero naming the first broken event."

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_chain_verify(store=True)
        self.stdout.write(f"Checked {result.events_checked} events.")
        if not result.is_intact:
            raise CommandError(f"Audit log broken at event #{result.first_broken_seq}: {result.message}")
        self.stdout.write(self.style.SUCCESS(result.message))
