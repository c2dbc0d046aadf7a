"""Signals the payments app sends, so later parts (the audits) react without the close importing them."""

from django.dispatch import Signal

# Sent once a close run's work is committed (a full close or a retry), with ``period_id``,
# ``run_id`` and ``is_retry``. The close sends it from ``transaction.on_commit``, so a receiver
# that reads the period sees the finished close.
period_closed = Signal()
