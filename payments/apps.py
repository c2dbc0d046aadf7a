from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        # Connects the audit that follows every period close (payments/audits/receivers.py).
        from payments.audits import receivers  # noqa: F401
