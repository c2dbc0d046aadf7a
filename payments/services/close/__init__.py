"""The weekly close: pay periods, the period's work priced into ledger lines, and the runs that post them.

Public API (see each module): ``period_for``, ``period_for_day``, ``periods_ensure``, ``period_bounds``,
``period_is_over`` (periods); ``period_close_start``, ``close_run_execute``, ``period_close``,
``close_exceptions_retry``, ``periods_close_due`` (runs).
"""

from payments.services.close.periods import (
    period_bounds,
    period_closes_from,
    period_for,
    period_for_day,
    period_is_over,
    periods_ensure,
)
from payments.services.close.runs import (
    close_exceptions_retry,
    close_lock_is_held,
    close_run_execute,
    period_close,
    period_close_start,
    periods_close_due,
)

__all__ = [
    "close_exceptions_retry",
    "close_lock_is_held",
    "close_run_execute",
    "period_bounds",
    "period_close",
    "period_close_start",
    "period_closes_from",
    "period_for",
    "period_for_day",
    "period_is_over",
    "periods_close_due",
    "periods_ensure",
]
