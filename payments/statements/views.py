"""Contractor pages for pay (earnings, statements, the PDF, how pay is computed) and the staff view of them."""

from __future__ import annotations

from decimal import Decimal

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _

from payments.models import PayPeriod
from payments.statements.charts import hourly_against_floor
from payments.statements.pdf import statement_pdf
from payments.statements.selectors import earnings_overview, statement_build, statement_periods
from workforce.models import Role, User
from workforce.permissions import contractor_required, role_required
from workforce.views import _user


def _major(minor: Decimal | None, places: int) -> Decimal | None:
    return None if minor is None else (Decimal(minor).scaleb(-places)).quantize(Decimal("0.01"))


@contractor_required
def my_earnings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    overview = earnings_overview(contractor=user)
    places = overview.exponent
    chart = hourly_against_floor(
        weeks=[
            (f"{w.period.start:%m-%d}", _major(w.effective_hourly, places), _major(w.floor_hourly, places))
            for w in overview.weeks
        ],
        unit=_("%(c)s an hour") % {"c": overview.currency},
        title=_("Effective hourly pay per week against the wage floor"),
        desc=_("Bars: what you earned per paid hour after any top-up. Dashed marks: the floor that applied."),
    )
    context = {
        "overview": overview,
        "chart": chart,
        "periods": statement_periods(contractor=user),
        "weeks": list(reversed(overview.weeks)),
    }
    return render(request, "payments/earnings.html", context)


def _statement_context(contractor: User, pk: int) -> dict[str, object]:
    period = get_object_or_404(PayPeriod, pk=pk)
    return {"s": statement_build(contractor=contractor, period=period)}


@contractor_required
def my_statement(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "payments/statement.html", _statement_context(_user(request), pk))


@contractor_required
def my_statement_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return _pdf_response(_statement_context(_user(request), pk))


@contractor_required
def my_pay_explained(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "payments/pay_explained.html", _statement_context(_user(request), pk))


def _pdf_response(context: dict[str, object]) -> HttpResponse:
    statement = context["s"]
    pdf = statement_pdf(statement)  # type: ignore[arg-type]
    period = statement.period  # type: ignore[attr-defined]
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="fairtask-statement-{period.start:%Y-%m-%d}.pdf"'
    return response


def _contractor(pk: int) -> User:
    user = User.objects.filter(pk=pk, role=Role.CONTRACTOR).first()
    if user is None:
        raise Http404
    return user


@role_required(read=True)
def contractor_statement(request: HttpRequest, user_pk: int, pk: int) -> HttpResponse:
    """Operations managers and auditors read a contractor's statement (the same page, read-only)."""
    context = _statement_context(_contractor(user_pk), pk)
    context["staff_view"] = True
    return render(request, "payments/statement.html", context)


@role_required(read=True)
def contractor_statement_pdf(request: HttpRequest, user_pk: int, pk: int) -> HttpResponse:
    return _pdf_response(_statement_context(_contractor(user_pk), pk))
