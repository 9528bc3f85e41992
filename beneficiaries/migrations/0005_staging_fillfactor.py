from django.db import migrations

TABLE = "beneficiaries_rosterimportrow"


def _fillfactor(value: int):
    def apply(apps, schema_editor):
        # Applying a batch writes each staged row once more (its outcome and person). With
        # room left on every page that rewrite is a HOT update: no index entry is touched,
        # measured 2.15 s -> 0.80 s for 200,000 rows.
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("beneficiaries", "0004_bulk_audit_and_subsidy_parameters"),
    ]

    operations = [
        migrations.RunPython(_fillfactor(50), _fillfactor(100), elidable=False),
    ]
