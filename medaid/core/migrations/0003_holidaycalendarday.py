"""The working-day calendar moves from claims to core: the table is renamed, its rows kept."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("medaid", "0002_roles"),
        ("claims", "0007_audit_events_unindexed_snapshots"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="HolidayCalendarDay",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("date", models.DateField(unique=True, verbose_name="日期")),
                        (
                            "is_workday",
                            models.BooleanField(
                                help_text="法定节假日填否；调休上班日填是", verbose_name="是否工作日"
                            ),
                        ),
                        (
                            "name",
                            models.CharField(
                                blank=True,
                                help_text="如 春节、国庆节调休",
                                max_length=64,
                                verbose_name="名称",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "节假日安排",
                        "verbose_name_plural": "节假日安排",
                        "ordering": ["date"],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE claims_holidaycalendarday RENAME TO medaid_holidaycalendarday",
                    "ALTER TABLE medaid_holidaycalendarday RENAME TO claims_holidaycalendarday",
                ),
            ],
        ),
    ]
