"""The database itself refuses UPDATE and DELETE on ledger rows (rule 5).

A row-level trigger on PostgreSQL, the production and test database. Corrections are
reversal entries. TRUNCATE is not covered: it is not a row change a service could make by
mistake, and pytest-django empties tables with it between transactional tests. SQLite (the
embedded ``make run`` default) gets no trigger.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION payments_ledgerentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payments_ledgerentry is append-only: post a reversal entry instead'
        USING ERRCODE = 'restrict_violation',
              DETAIL = format('%s of ledger entry %s refused.', TG_OP, OLD.id);
END;
$$;

CREATE TRIGGER payments_ledgerentry_no_update_or_delete
    BEFORE UPDATE OR DELETE ON payments_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION payments_ledgerentry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS payments_ledgerentry_no_update_or_delete ON payments_ledgerentry;
DROP FUNCTION IF EXISTS payments_ledgerentry_append_only();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no placeholders: the %s belong to format()

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
