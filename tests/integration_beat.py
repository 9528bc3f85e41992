"""The Celery app a test's `celery beat` runs (`BeatProcess`): production's app and its
schedule, narrowed to the two entries that run all day — the outbox dispatcher (10 s) and the
job sweeper (60 s) — so that a monthly or nightly entry whose hour happens to come round
during a test run sends nothing."""

from django.conf import settings

from medaid.core.celery import app

BEAT_ENTRIES = ("outbox-dispatch", "job-sweep")

app.conf.beat_schedule = {name: settings.CELERY_BEAT_SCHEDULE[name] for name in BEAT_ENTRIES}
