"""The working-day calendar now belongs to core (medaid.0003 renamed its table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0007_audit_events_unindexed_snapshots"),
        ("medaid", "0003_holidaycalendarday"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="HolidayCalendarDay")],
            database_operations=[],
        ),
    ]
