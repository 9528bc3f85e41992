import pytest

from tests.integration_support import (  # noqa: F401
    celery_beat_process,
    celery_broker,
    celery_worker_process,
)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded and generated files go to a per-test folder, never the project's."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REPORTS_DIR = tmp_path / "out"
