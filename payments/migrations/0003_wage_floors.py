"""The reviewed statutory wage floors, so every database has them (rule 2).

The same rows as ``payments/fixtures/wage_floors.json`` (a test keeps the two equal); the
fixture can be loaded again with ``loaddata wage_floors`` and matches rows by their natural
key (jurisdiction, effective_from). Later changes to the floors come as new migrations or
admin edits, never as edits to this one.
"""

import datetime
from decimal import Decimal

from django.db import migrations

CHECKED_ON = datetime.date(2026, 11, 23)
US = "https://www.dol.gov/agencies/whd/minimum-wage"
CA = "https://www.dir.ca.gov/dlse/faq_minimumwage.htm"
GB = "https://www.gov.uk/national-minimum-wage-rates"
DE = "https://www.bmas.de/DE/Arbeit/Arbeitsrecht/Mindestlohn/mindestlohn.html"
CA_NOTE = (
    "California minimum wage for all employers (Labor Code 1182.12). "
    "Some cities and counties set higher local minimums."
)
GB_NOTE = "National Living Wage, workers aged 21 and over."
DE_NOTE_4 = "Gesetzlicher Mindestlohn (MiLoG), Vierte Mindestlohnanpassungsverordnung."
DE_NOTE_5 = "Gesetzlicher Mindestlohn (MiLoG), Fünfte Mindestlohnanpassungsverordnung."

# (jurisdiction, currency, hourly rate, effective from, source, note)
ROWS = [
    ("US", "USD", "7.2500", "2009-07-24", US, "Federal minimum wage, Fair Labor Standards Act, 29 U.S.C. 206(a)(1)(C)."),
    ("US-CA", "USD", "16.0000", "2024-01-01", CA, CA_NOTE),
    ("US-CA", "USD", "16.5000", "2025-01-01", CA, CA_NOTE),
    ("US-CA", "USD", "16.9000", "2026-01-01", CA, CA_NOTE),
    ("GB", "GBP", "11.4400", "2024-04-01", GB, GB_NOTE),
    ("GB", "GBP", "12.2100", "2025-04-01", GB, GB_NOTE),
    ("GB", "GBP", "12.7100", "2026-04-01", GB, GB_NOTE),
    ("DE", "EUR", "12.4100", "2024-01-01", DE, DE_NOTE_4),
    ("DE", "EUR", "12.8200", "2025-01-01", DE, DE_NOTE_4),
    ("DE", "EUR", "13.9000", "2026-01-01", DE, DE_NOTE_5),
    ("DE", "EUR", "14.6000", "2027-01-01", DE, DE_NOTE_5),
]


def add_floors(apps, schema_editor):
    WageFloor = apps.get_model("payments", "WageFloor")
    for jurisdiction, currency, rate, effective_from, source_url, note in ROWS:
        WageFloor.objects.get_or_create(
            jurisdiction=jurisdiction,
            effective_from=datetime.date.fromisoformat(effective_from),
            defaults={
                "currency": currency,
                "hourly_rate": Decimal(rate),
                "source_url": source_url,
                "checked_on": CHECKED_ON,
                "note": note,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_ledger_append_only"),
    ]

    operations = [
        migrations.RunPython(add_floors, migrations.RunPython.noop, elidable=False),
    ]
