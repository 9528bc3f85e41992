"""Policy tests are pure: no database, no Django settings.

The project-wide conftest has an autouse fixture that needs pytest-django's `settings`; these
tests neither read nor write media, so it is shadowed here by a no-op with the same name. That
keeps `pytest tests/policy -p no:django` working and costs nothing under pytest-django.
"""

import pytest


@pytest.fixture(autouse=True)
def _media_root():
    yield
