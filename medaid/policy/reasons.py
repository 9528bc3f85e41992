"""Why a claim or a premium got nothing: the stable codes, their Chinese text, and the order
in which a claim meets them.

Below both `results.py` (decisions carry a reason) and `trace.py` (a trace line spells one out),
so neither has to import the other to name a reason.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a claim or premium got nothing. The value is the stable code; `.text` is Chinese."""

    NO_IDENTITY = "no_identity"
    OUTSIDE_LOOKBACK = "outside_lookback"
    KIND_NOT_COVERED = "kind_not_covered"
    HOSPITAL_LEVEL_NOT_COVERED = "hospital_level_not_covered"
    AGE_REQUIREMENT_NOT_MET = "age_requirement_not_met"
    NOT_REFERRED = "not_referred"
    LATE_APPLICATION = "late_application"
    CAP_EXHAUSTED = "cap_exhausted"
    HEALTH_POVERTY_SCHEME = "health_poverty_scheme"
    DATE_AFTER_POLICY = "date_after_policy"
    # premium subsidy
    NOT_SUBSIDISED = "not_subsidised"
    AMOUNT_NOT_SET = "amount_not_set"
    ALREADY_PAID = "already_paid_no_refund"
    EMPLOYEE_INSURANCE = "employee_insurance"

    @property
    def text(self) -> str:
        return REASON_TEXT[self]


REASON_TEXT: dict[Reason, str] = {
    Reason.NO_IDENTITY: "就诊（出院）时不具有本政策认可的医疗救助对象身份",
    Reason.OUTSIDE_LOOKBACK: "费用发生在可追溯救助的期限之外",
    Reason.KIND_NOT_COVERED: "该身份不享受此救助项目",
    Reason.HOSPITAL_LEVEL_NOT_COVERED: "此救助项目不在该级别医疗机构实施",
    Reason.AGE_REQUIREMENT_NOT_MET: "不满足此救助项目的年龄或身份条件",
    Reason.NOT_REFERRED: "未按规定转诊，费用不纳入医疗救助范围",
    Reason.LATE_APPLICATION: "超过手工报销申请时限",
    Reason.CAP_EXHAUSTED: "年度救助限额已用完",
    Reason.HEALTH_POVERTY_SCHEME: "同时属于建档立卡贫困人口，仅享受健康扶贫医疗保障待遇",
    Reason.DATE_AFTER_POLICY: "费用（决定）日期晚于本政策的有效期，不按本政策救助",
    Reason.NOT_SUBSIDISED: "该身份不享受资助参保",
    Reason.AMOUNT_NOT_SET: "定额资助标准未在政策文件中规定，需按上级标准设置参数",
    Reason.ALREADY_PAID: "已缴纳参保费用，不退不补",
    Reason.EMPLOYEE_INSURANCE: "参加职工基本医疗保险的不予资助",
}

# Order in which a claim is checked; when no identity qualifies, the reason reported is the
# one from the identity that got furthest.
REASON_STAGE: dict[Reason | None, int] = {
    Reason.DATE_AFTER_POLICY: -1,
    Reason.NO_IDENTITY: 0,
    Reason.OUTSIDE_LOOKBACK: 1,
    Reason.HEALTH_POVERTY_SCHEME: 1,
    Reason.KIND_NOT_COVERED: 2,
    Reason.HOSPITAL_LEVEL_NOT_COVERED: 3,
    Reason.AGE_REQUIREMENT_NOT_MET: 4,
    Reason.NOT_REFERRED: 5,
    Reason.LATE_APPLICATION: 6,
    Reason.CAP_EXHAUSTED: 7,
    None: 8,
}
