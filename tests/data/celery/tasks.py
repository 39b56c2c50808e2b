"""A Celery app whose one task records each execution, for
tests/celery_worker.rs: one JSON line per run with the task id, the
positional and the keyword arguments, appended to $DONE_FILE."""

import json
import os

from celery import Celery

app = Celery("tasks", broker=os.environ["CELERY_BROKER_URL"])
app.conf.broker_connection_retry_on_startup = True


@app.task(name="tasks.record", bind=True)
def record(self, *args, **kwargs):
    line = json.dumps({"id": self.request.id, "args": args, "kwargs": kwargs}, ensure_ascii=False)
    with open(os.environ["DONE_FILE"], "a", encoding="utf-8") as done:
        done.write(line + "\n")
