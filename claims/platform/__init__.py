"""The national medical-insurance platform's settlement list (结算清单) as a declaration format.

- `models`: the code mappings (data, dated, edited in the admin), the platform's own facts of
  each settlement (setl_id, codes, maf_pay, the comparison with medaid's figure) and their
  staging rows;
- `reader`: .xlsx / .csv (UTF-8 or GBK) / JSON records → the rows the declaration staging takes
  (`claims.imports.parse_line`), plus each line's platform facts;
- `services`: receiving a platform file through `claims.services.declaration_receive`, the
  re-sends and reversals (before the merge), the comparison with `maf_pay` (after the runs),
  the reviewer's answer;
- `selectors`: the mismatch report and the 清算 summary;
- `fixtures`: platform-layout files for the demo, the tests and the bench.

Kept empty of imports: `claims.models` imports `claims.platform.models`.
"""
