from django.db import migrations


def forwards(apps, schema_editor):
    # Traces are ~2 KB of Chinese text per decision and a recomputation writes a million of
    # them: lz4 compresses them several times faster than PostgreSQL's default pglz.
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
                       "AND 'lz4' = ANY(enumvals)")
        if cursor.fetchone():
            cursor.execute("ALTER TABLE claims_decision ALTER COLUMN trace SET COMPRESSION lz4")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE claims_decision ALTER COLUMN trace SET COMPRESSION default"
            )


class Migration(migrations.Migration):
    dependencies = [("claims", "0004_slimmer_lines_decision_audit")]

    operations = [migrations.RunPython(forwards, backwards)]
