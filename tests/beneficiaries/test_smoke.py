import pytest
from datetime import date
from beneficiaries import services
from beneficiaries.models import Identity, Person, RosterImport
from tests.beneficiaries.conftest import csv_upload, make_id, xlsx_upload

@pytest.mark.django_db
def test_smoke(civil, township):
    rows = [["新增", make_id(1), "张三", "低保对象", "", "2024-01-01", ""],
            ["新增", make_id(2), "李四", "特困人员", "", "2024/2/1", ""],
            ["新增", make_id(3)[:-1]+"0", "王五", "低保", "", "2024-01-01", ""]]
    up = csv_upload(rows)
    batch, created = services.roster_import_receive(department=civil, kind="feed", upload=up, file_name="a.csv", stated_date=date(2024,3,5), channel="admin")
    services.roster_import_validate(batch=batch)
    batch.refresh_from_db()
    print(batch.status, batch.rows_total, batch.rows_error, batch.preview)
    summary = services.roster_import_apply(batch=batch)
    print(summary)
    print(list(Identity.objects.values()))
