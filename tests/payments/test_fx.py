"""FX rates: the dated rate of a day, inverse pairs, missing rates, and the all-or-nothing CSV loader."""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from payments.models import FxRate
from payments.money import Money
from payments.selectors import FxRateMissing, fx_rate_on
from payments.services.fx import WRITE_CHUNK, FxFileRejected, fx_rates_load
from tests.payments.factories import FxRateFactory, contractor_user
from tests.workforce.factories import staff_user
from workforce.models import AuditEvent, Role

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
D = datetime.date


# The rate of a day ------------------------------------------------------------------------------


def test_the_rate_of_a_day_is_the_latest_dated_on_or_before_it():
    FxRateFactory.create(date=D(2026, 1, 2), rate=Decimal("1.0800"))
    newer = FxRateFactory.create(date=D(2026, 1, 6), rate=Decimal("1.0900"))
    on_5th = fx_rate_on(base="EUR", quote="USD", day=D(2026, 1, 5))
    assert (on_5th.rate, on_5th.rate_date, on_5th.is_inverse) == (Decimal("1.08"), D(2026, 1, 2), False)
    on_6th = fx_rate_on(base="eur", quote="usd", day=D(2026, 1, 6))
    assert (on_6th.rate, on_6th.fx_rate_id) == (Decimal("1.09"), newer.pk)
    assert Money(10000, "EUR").convert(on_6th.rate, "USD") == Money(10900, "USD")


def test_only_the_inverse_pair_stored_gives_the_reciprocal_rate():
    FxRateFactory.create(date=D(2026, 1, 5), base="USD", quote="EUR", rate=Decimal("0.8000"))
    FxRateFactory.create(date=D(2026, 1, 5), base="USD", quote="JPY", rate=Decimal("3"))
    eur_usd = fx_rate_on(base="EUR", quote="USD", day=D(2026, 1, 5))
    assert (eur_usd.rate, eur_usd.is_inverse) == (Decimal("1.25"), True)
    jpy_usd = fx_rate_on(base="JPY", quote="USD", day=D(2026, 1, 5))
    assert jpy_usd.rate == Decimal("0.3333333333333333333333333333")  # 28 significant digits, not 0.33


def test_the_same_currency_has_the_rate_one_without_any_row():
    quote_ = fx_rate_on(base="USD", quote="USD", day=D(2026, 1, 5))
    assert (quote_.rate, quote_.fx_rate_id) == (Decimal(1), None)


def test_a_missing_rate_raises_fx_rate_missing_naming_the_pair_and_the_date():
    FxRateFactory.create(date=D(2026, 1, 6), base="EUR", quote="USD")  # after the day asked for
    with pytest.raises(FxRateMissing, match=r"No FX rate for GBP→USD \(or USD→GBP\) on or before 2026-01-05") as exc:
        fx_rate_on(base="GBP", quote="USD", day=D(2026, 1, 5))
    assert isinstance(exc.value, LookupError)
    assert (exc.value.base, exc.value.quote, exc.value.day) == ("GBP", "USD", D(2026, 1, 5))
    with pytest.raises(FxRateMissing, match="EUR→USD"):
        fx_rate_on(base="EUR", quote="USD", day=D(2026, 1, 5))


def test_a_stale_rate_is_refused_rather_than_used(settings):
    settings.FAIRTASK_FX_MAX_AGE_DAYS = 7
    FxRateFactory.create(date=D(2026, 1, 2))
    assert fx_rate_on(base="EUR", quote="USD", day=D(2026, 1, 9)).rate_date == D(2026, 1, 2)
    with pytest.raises(FxRateMissing, match="is from 2026-01-02, more than 7 days earlier"):
        fx_rate_on(base="EUR", quote="USD", day=D(2026, 1, 10))


# Loading a file ---------------------------------------------------------------------------------


def _load(text: str, **kwargs: Any) -> Any:
    return fx_rates_load(stream=io.StringIO(text, newline=""), file_name="rates.csv", **kwargs)


def _rows() -> set[tuple[datetime.date, str, str, Decimal]]:
    return set(FxRate.objects.values_list("date", "base", "quote", "rate"))


def _rejected(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(FxFileRejected) as exc:
        _load(text)
    return [(p.row, p.field) for p in exc.value.problems]


def test_a_good_file_loads_every_rate_and_replaces_a_stored_one(ops):
    FxRateFactory.create(date=D(2026, 1, 5), base="EUR", quote="USD", rate=Decimal("1.0000"), source="old")
    result = _load(
        "date,base,quote,rate,source\n"
        "2026-01-05,EUR,USD,1.0842,ECB\n"
        "2026-01-05,usd,jpy,157.12,\n"
        "\n"
        "2026-01-06,GBP,EUR,1.1873,ECB\n",
        actor=ops,
    )
    assert (result.rows, result.created, result.updated, result.unchanged) == (4, 2, 1, 0)
    assert _rows() == {
        (D(2026, 1, 5), "EUR", "USD", Decimal("1.0842")),
        (D(2026, 1, 5), "USD", "JPY", Decimal("157.12")),
        (D(2026, 1, 6), "GBP", "EUR", Decimal("1.1873")),
    }
    assert FxRate.objects.get(base="USD").source == "file rates.csv"  # no source given: the file
    event = AuditEvent.objects.get(action="fx.load")
    assert event.actor == ops and event.summary["updated"] == 1
    assert event.summary["changes"] == [
        {"date": "2026-01-05", "base": "EUR", "quote": "USD", "old": "1.0000000000", "new": "1.0842"}
    ]


def test_loading_the_same_file_twice_changes_nothing_the_second_time():
    text = "date,base,quote,rate\n2026-01-05,EUR,USD,1.0842\n"
    _load(text)
    again = _load(text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert FxRate.objects.count() == 1


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (",EUR,USD,1.08", "date", "The date is missing"),
        ("05/01/2026,EUR,USD,1.08", "date", "“05/01/2026” is not a date; write it as YYYY-MM-DD"),
        ("2026-02-30,EUR,USD,1.08", "date", "is not a date"),
        ("2026-01-05,EUR,XYZ,1.08", "quote", "“XYZ” is not an ISO 4217 currency code"),
        ("2026-01-05,,USD,1.08", "base", "The currency is missing"),
        ("2026-01-05,EUR,EUR,1.08", "quote", "must differ from the base"),
        ("2026-01-05,EUR,USD,abc", "rate", "“abc” is not a number"),
        ("2026-01-05,EUR,USD,0", "rate", "must be above zero"),
        ("2026-01-05,EUR,USD,-1.2", "rate", "must be above zero"),
        ("2026-01-05,EUR,USD,NaN", "rate", "is not a number"),
        ("2026-01-05,EUR,USD,1.000000000001", "rate", "more than 10 decimal places"),
        ("2026-01-05,EUR,USD", "row", "3 values for 4 columns"),
    ],
)
def test_a_bad_row_rejects_the_whole_file_naming_its_row_and_field(row, field, message):
    FxRateFactory.create(date=D(2026, 1, 2), rate=Decimal("1.0000"))
    before = _rows()
    text = f"date,base,quote,rate\n2026-01-02,EUR,USD,1.0842\n2026-01-02,EUR,GBP,0.86\n{row}\n"
    with pytest.raises(FxFileRejected) as exc:
        _load(text)
    [problem] = exc.value.problems
    assert (problem.row, problem.field) == (3, field) and message in problem.message
    assert _rows() == before  # the good rows before it were not written, the stored rate not replaced
    assert not AuditEvent.objects.filter(action="fx.load").exists()


def test_a_pair_given_twice_for_one_date_is_refused_naming_both_rows():
    assert _rejected(
        "date,base,quote,rate\n2026-01-05,EUR,USD,1.08\n2026-01-06,EUR,USD,1.09\n2026-01-05,EUR,USD,1.07\n"
    ) == [(3, "date")]


@pytest.mark.parametrize(
    ("header", "problems"),
    [
        ("date,base,quote\n", [(None, "rate")]),
        ("date,base,quote,rate,note\n", [(None, "note")]),
        ("date,base,quote,rate,rate\n", [(None, "rate")]),
        ("", [(None, "header")]),  # the first row is data, not a header
    ],
)
def test_a_bad_header_rejects_the_file(header, problems):
    assert _rejected(header + "2026-01-05,EUR,USD,1.08\n") == problems


def test_an_empty_file_is_rejected():
    assert _rejected("") == [(None, "file")]


def test_a_bad_row_after_rows_already_written_rolls_every_row_back():
    good = "".join(f"{D(2020, 1, 1) + datetime.timedelta(days=i)},EUR,USD,1.08\n" for i in range(WRITE_CHUNK + 5))
    problems = _rejected("date,base,quote,rate\n" + good + "2026-01-05,EUR,USD,-1\n")
    assert problems == [(WRITE_CHUNK + 6, "rate")]
    assert FxRate.objects.count() == 0


def test_at_most_100_problems_are_listed():
    bad = "2026-01-05,EUR,USD,zero\n" * 250
    assert len(_rejected("date,base,quote,rate\n" + bad)) == 100


# The command ------------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_command_loads_a_file_and_prints_progress_and_a_summary(tmp_path):
    rows = "".join(f"{D(2024, 1, 1) + datetime.timedelta(days=i)},EUR,USD,1.08\n" for i in range(1500))
    path = _write(tmp_path, "ecb.csv", "\ufeffdate,base,quote,rate,source\n" + rows.replace("\n", ",ECB\n"))
    out = io.StringIO()
    call_command("load_fx_rates", str(path), stdout=out)
    text = out.getvalue()
    assert "\r" in text and "rows/s" in text
    assert "Loaded 1,500 FX rates from ecb.csv" in text and "1,500 new, 0 updated, 0 unchanged" in text
    assert FxRate.objects.filter(source="ECB").count() == 1500


def test_the_command_lists_the_problems_of_a_bad_file_and_changes_nothing(tmp_path):
    path = _write(tmp_path, "bad.csv", "date,base,quote,rate\n,EUR,USD,1.08\n2026-01-05,EUR,ABC,1.08\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"Loading bad\.csv failed with 2 problem"):
        call_command("load_fx_rates", str(path), stdout=io.StringIO(), stderr=err)
    assert "The file bad.csv was rejected; no rate was changed." in err.getvalue()
    assert "row 1, field date: The date is missing" in err.getvalue()
    assert "row 2, field quote: “ABC” is not an ISO 4217 currency code" in err.getvalue()
    assert FxRate.objects.count() == 0


def test_the_command_names_a_file_it_cannot_read(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.csv"):
        call_command("load_fx_rates", str(tmp_path / "missing.csv"))


def _test_database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = quote(str(db["HOST"] or ""), safe="")
    return f"postgres://{quote(str(db['USER']), safe='')}{password}@{host}{port}/{quote(str(db['NAME']), safe='')}"


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_1_on_a_bad_file_and_0_on_a_good_one(tmp_path):
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "DJANGO_SETTINGS_MODULE": "workforce.settings.test"}

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", "load_fx_rates", str(path)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    bad = run(_write(tmp_path, "bad.csv", "date,base,quote,rate\n2026-01-05,EUR,USD,0\n"))
    assert bad.returncode == 1
    assert "row 1, field rate: The rate must be above zero" in bad.stderr
    assert FxRate.objects.count() == 0
    good = run(_write(tmp_path, "good.csv", "date,base,quote,rate\n2026-01-05,EUR,USD,1.0842\n"))
    assert good.returncode == 0, good.stderr
    assert "Loaded 1 FX rates from good.csv" in good.stdout
    assert _rows() == {(D(2026, 1, 5), "EUR", "USD", Decimal("1.0842"))}


# The admin --------------------------------------------------------------------------------------


def test_an_operations_manager_corrects_an_fx_rate_in_the_admin_and_the_edit_is_audited(login):
    rate = FxRateFactory.create(date=D(2026, 1, 5), rate=Decimal("1.0000"))
    manager = staff_user(is_staff=True)  # an operations manager, not a superuser
    client = login(manager)
    url = reverse("admin:payments_fxrate_change", args=[rate.pk])
    form = {"date": "2026-01-05", "base": "EUR", "quote": "USD", "rate": "1.0842", "source": "ECB, corrected"}
    assert client.post(url, form).status_code == 302
    rate.refresh_from_db()
    assert rate.rate == Decimal("1.0842")
    event = AuditEvent.objects.get(action="admin.change")
    assert event.actor == manager and event.object_type == "payments.fxrate" and "rate" in event.summary["fields"]
    assert client.get(reverse("admin:payments_fxrate_delete", args=[rate.pk])).status_code == 403


def test_the_admin_refuses_an_fx_rate_with_one_currency_on_both_sides(login):
    client = login(staff_user(is_superuser=True, is_staff=True))
    form = {"date": "2026-01-05", "base": "eur", "quote": "EUR", "rate": "1", "source": ""}
    response = client.post(reverse("admin:payments_fxrate_add"), form)
    assert response.status_code == 200 and "must differ from the base currency" in response.content.decode()
    assert FxRate.objects.count() == 0


def test_a_contractor_or_auditor_cannot_edit_fx_rates_in_the_admin(login):
    rate = FxRateFactory.create()
    for user in (staff_user(Role.AUDITOR, is_staff=True), contractor_user(is_staff=True)):
        response = login(user).post(
            reverse("admin:payments_fxrate_change", args=[rate.pk]),
            {"date": "2026-01-05", "base": "EUR", "quote": "USD", "rate": "9", "source": ""},
        )
        assert response.status_code == 403
    rate.refresh_from_db()
    assert rate.rate == Decimal("1.0842")
