"""Log lines: JSON for collectors carries the job fields."""

from __future__ import annotations

import json
import logging

from newsletter.runtime.logs import JsonFormatter


def test_json_log_lines_carry_the_job_fields():
    record = logging.LogRecord(
        "newsletter.runtime.jobs", logging.INFO, __file__, 1, "job %s ok", ("digest:hebdo",), None
    )
    record.job, record.outcome, record.counts, record.duration_s = "digest:hebdo", "ok", {"sent": 3}, 0.25
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "job digest:hebdo ok"
    assert (line["job"], line["outcome"], line["counts"], line["level"]) == ("digest:hebdo", "ok", {"sent": 3}, "info")
