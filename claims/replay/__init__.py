"""Replaying a period under a draft (issue #16 part 2): what a set of dated parameter changes,
or another pack, would pay for every claim of a pooling area's period, beside what the rules in
force pay, without writing a single decision.

- `models`: `ReplayRun` (area, period, draft, job, results), its partitions and the largest
  changes per person with both traces;
- `services`: start (permission, draft checked), the partitions (each decides its people's
  years twice: current rules, current + draft), the merge of their results;
- `admin` / `exports`: the form, the result page with its chart, the Excel workbook.
"""
