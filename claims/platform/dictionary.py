"""The platform's dictionary as medaid first reads it: the rows the data migration seeds into
`CodeMapping` (from then on they are data, edited in the admin with dates), the fixtures
generator's codes and docs/formats.md's tables. (dictionary, code, platform label, our value);
an empty value is a platform code outside medical assistance (the line is refused)."""

from __future__ import annotations

import datetime as dt

from beneficiaries import platform_codes

SEEDED_FROM = dt.date(2020, 1, 1)

MED_TYPE = (
    ("11", "普通门诊", "outpatient_general"),
    ("12", "门诊挂号", ""),
    ("13", "急诊", "outpatient_emergency"),
    ("14", "门诊慢特病", "outpatient_chronic"),
    ("140104", "门诊慢病", "outpatient_chronic"),
    ("140201", "门诊特病", "outpatient_special"),
    ("15", "门诊特药（国家谈判药品）", "negotiated_drug"),
    ("16", "门诊两病", "outpatient_chronic"),
    ("21", "普通住院", "inpatient"),
    ("22", "外伤住院", "inpatient"),
    ("23", "转外诊治住院", "inpatient"),
    ("24", "急诊转住院", "inpatient"),
    ("28", "日间手术", "day_surgery"),
    ("41", "定点药店购药", ""),
    ("51", "生育门诊", ""),
    ("52", "生育住院", ""),
    ("9901", "其他门诊", ""),
    ("9902", "其他住院", ""),
)
INSUTYPE = (
    ("310", "职工基本医疗保险", "employee"),
    ("320", "公务员医疗补助", "employee"),
    ("330", "大额医疗费用补助", "employee"),
    ("340", "离休人员医疗保障", "employee"),
    ("390", "城乡居民基本医疗保险", "resident"),
    ("392", "城乡居民大病医疗保险", "resident"),
    ("510", "生育保险", ""),
)
HOSP_LV = (
    ("1", "三级特等", "3"),
    ("2", "三级甲等", "3"),
    ("3", "三级乙等", "3"),
    ("4", "三级丙等", "3"),
    ("5", "二级甲等", "2"),
    ("6", "二级乙等", "2"),
    ("7", "二级丙等", "2"),
    ("8", "一级甲等", "1"),
    ("9", "一级乙等", "1"),
    ("10", "一级丙等", "1"),
    ("11", "无等级", "1"),
)
# The five jurisdictions' county-level areas (Baoshan, Kunming, Pingshun, Zhangye; Yunnan's
# province-wide pack applies through its cities' counties, here Qujing's Qilin district).
INSU_ADMDVS = (
    ("530502", "保山市隆阳区", "530502"),
    ("530521", "保山市施甸县", "530521"),
    ("530581", "保山市腾冲市", "530581"),
    ("530523", "保山市龙陵县", "530523"),
    ("530524", "保山市昌宁县", "530524"),
    ("530102", "昆明市五华区", "530102"),
    ("530103", "昆明市盘龙区", "530103"),
    ("530111", "昆明市官渡区", "530111"),
    ("530112", "昆明市西山区", "530112"),
    ("530181", "昆明市安宁市", "530181"),
    ("530302", "曲靖市麒麟区", "530302"),
    ("140429", "长治市平顺县", "140429"),
    ("620702", "张掖市甘州区", "620702"),
    ("620722", "张掖市民乐县", "620722"),
    ("620723", "张掖市临泽县", "620723"),
    ("620724", "张掖市高台县", "620724"),
    ("620725", "张掖市山丹县", "620725"),
)
# 人员身份类别 is the registry's dictionary (beneficiaries.IdentityTypeMapping, seeded from
# beneficiaries.platform_codes): one mapping for the identity records and the settlement lists.
PSN_IDET_TYPE = platform_codes.PSN_IDET_TYPE
# 清算类别 as the platform sends it: not mapped (nothing of ours depends on it), only grouped
# and labelled in the 清算 summary.
CLR_TYPE = {
    "11": "门诊",
    "21": "住院",
    "41": "药店购药",
    "99": "其他",
}
DICTIONARY = {
    "med_type": MED_TYPE,
    "insutype": INSUTYPE,
    "hosp_lv": HOSP_LV,
    "insu_admdvs": INSU_ADMDVS,
    "psn_idet_type": PSN_IDET_TYPE,
}


def seed_rows():
    """(dictionary, code, label, value, valid_from) for every seeded mapping."""
    for dictionary, rows in DICTIONARY.items():
        if dictionary == "psn_idet_type":
            continue  # seeded by the registry (beneficiaries.IdentityTypeMapping)
        for code, label, value in rows:
            yield dictionary, code, label, value, SEEDED_FROM


def code_for(dictionary: str, value: str) -> str:
    """The first platform code that maps to our `value` (the fixtures generator writes it)."""
    return next(code for code, _, v in DICTIONARY[dictionary] if v == value)
