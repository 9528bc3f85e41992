"""The platform's dictionary as first read (claims.platform.dictionary); from here on the
mappings are data, edited in the admin."""

from django.db import migrations


def seed(apps, schema_editor):
    from claims.platform.dictionary import seed_rows

    CodeMapping = apps.get_model("claims", "CodeMapping")
    CodeMapping.objects.bulk_create(
        CodeMapping(dictionary=d, code=code, label=label, value=value, valid_from=start)
        for d, code, label, value, start in seed_rows()
    )


def unseed(apps, schema_editor):
    apps.get_model("claims", "CodeMapping").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("claims", "0014_platform_settlement_list")]

    operations = [migrations.RunPython(seed, unseed)]
