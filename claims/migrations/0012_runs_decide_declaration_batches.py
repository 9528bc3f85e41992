from django.db import migrations, models


def copy_declarations(apps, schema_editor):
    DecisionRun = apps.get_model("claims", "DecisionRun")
    Through = DecisionRun.declarations.through
    Through.objects.bulk_create(
        Through(decisionrun_id=run_id, declaration_id=declaration_id)
        for run_id, declaration_id in DecisionRun.objects.exclude(
            declaration_old=None
        ).values_list("pk", "declaration_old_id")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0011_partition_resend"),
    ]

    operations = [
        migrations.RenameField("decisionrun", "declaration", "declaration_old"),
        migrations.AlterField(
            model_name="decisionrun",
            name="declaration_old",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=models.SET_NULL,
                related_name="+",
                to="claims.declaration",
            ),
        ),
        migrations.AddField(
            model_name="decisionrun",
            name="declarations",
            field=models.ManyToManyField(
                blank=True, related_name="runs", to="claims.declaration", verbose_name="申报批次"
            ),
        ),
        migrations.RunPython(copy_declarations, migrations.RunPython.noop),
        migrations.RemoveField("decisionrun", "declaration_old"),
    ]
