"""ReplayRun.parameter_change: the plain id becomes a foreign key, keeping the rows.

An id whose change no longer exists (none should: changes are withdrawn, not deleted) is
cleared first, or the constraint could not be added; then the column is renamed through the
field's own name and altered into the key (same bigint column `parameter_change_id`)."""

import django.db.models.deletion
from django.db import migrations, models


def clear_dangling(apps, schema_editor):
    ReplayRun = apps.get_model("claims", "ReplayRun")
    ParameterChange = apps.get_model("beneficiaries", "ParameterChange")
    ReplayRun.objects.filter(parameter_change_id__isnull=False).exclude(
        parameter_change_id__in=ParameterChange.objects.values("id")
    ).update(parameter_change_id=None)


class Migration(migrations.Migration):
    dependencies = [
        ("beneficiaries", "0017_admin_list_indexes"),
        ("claims", "0026_platform_reversal_reason"),
    ]

    operations = [
        migrations.RunPython(clear_dangling, migrations.RunPython.noop),
        migrations.RenameField(
            model_name="replayrun", old_name="parameter_change_id", new_name="parameter_change"
        ),
        migrations.AlterField(
            model_name="replayrun",
            name="parameter_change",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="replays",
                to="beneficiaries.parameterchange",
                verbose_name="参数变更",
            ),
        ),
    ]
