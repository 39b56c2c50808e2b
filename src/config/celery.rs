//! `format = "celery"`: the settings of a job whose ticks a Celery worker
//! runs, as a task message on kombu's Redis transport.

use serde_json::{Map, Value};

/// `format = "celery"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Celery {
    /// The registered task name the worker looks up (`task = "reports.nightly"`).
    pub task: String,
    /// The task's keyword arguments (`kwargs = { format = "pdf" }`); its
    /// positional ones are the job's `args`.
    pub kwargs: Map<String, Value>,
}

/// The queue a Celery job goes to when it names none: Celery's own default
/// (`task_default_queue`).
pub const CELERY_QUEUE: &str = "celery";

/// A task name as Celery registers it: usually the dotted path of the
/// function (`myapp.tasks.add`), but any name given to `@app.task(name=…)`.
pub fn parse_task(s: &str) -> Result<&str, super::format::Invalid> {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(super::format::Invalid::Task(s.to_owned()));
    }
    Ok(s)
}
