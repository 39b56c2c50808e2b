"""The function tests/rq_worker.rs has RQ call: records each execution, one
JSON line per run with the job id, the positional and the keyword
arguments, appended to $DONE_FILE."""

import json
import os

from rq import get_current_job


def record(*args, **kwargs):
    line = json.dumps({"id": get_current_job().id, "args": args, "kwargs": kwargs}, ensure_ascii=False)
    with open(os.environ["DONE_FILE"], "a", encoding="utf-8") as done:
        done.write(line + "\n")
