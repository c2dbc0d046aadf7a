import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workforce.settings.base")

app = Celery("fairtask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="jobs")
# Jobs of sub-packages that autodiscovery (one ``jobs`` module per app) does not reach.
app.autodiscover_tasks(["payments.payouts", "payments.audits", "payments.reports"], related_name="jobs")
