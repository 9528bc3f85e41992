from django.conf import settings

from medaid.core.scoping import mask_id_number


def test_language_and_time_zone_are_chinese_first():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True


def test_celery_time_limits_stay_under_the_visibility_timeout():
    assert settings.CELERY_TASK_TIME_LIMIT < settings.CELERY_VISIBILITY_TIMEOUT
    assert (
        settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        == (settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["visibility_timeout"])
    )


def test_id_numbers_are_masked_for_anonymous_readers():
    assert mask_id_number("530102199001011234") == "5301**********1234"
