"""The one Celery app. Task modules import it where tasks are declared (``from medaid.core.celery
import app``), so that importing the policy engine never loads Celery or Django."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

app = Celery("medaid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
