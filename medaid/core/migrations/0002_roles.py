"""The six roles as auth Groups. Permissions of apps migrated later are added by the
post_migrate sync (medaid.core.roles.sync_roles_after_migrate), which runs after every migrate."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from medaid.core.roles import sync_roles

    sync_roles(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
        using=schema_editor.connection.alias,
    )


def drop_roles(apps, schema_editor):
    from medaid.core.roles import ROLES

    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(
        name__in=[role.name for role in ROLES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("medaid", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
