//! `[worker]`.

use super::*;

pub(super) const WORKER_KEYS: &[&str] = &["max_payload_bytes"];

pub(super) fn validate_worker(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> WorkerSettings {
    let mut settings = WorkerSettings::default();
    let Some(table) = table_of(ctx, value, None, "worker") else { return settings };
    for (k, v) in table {
        let result = match k.get_ref().as_ref() {
            "max_payload_bytes" => as_int(v.get_ref())
                .and_then(|n| match n {
                    1024..=MAX_PAYLOAD_BYTES_LIMIT => Ok(n as usize),
                    _ => Err(invalid!("{n} is not between 1024 and {MAX_PAYLOAD_BYTES_LIMIT} bytes")),
                })
                .map(|n| settings.max_payload_bytes = n),
            _ => {
                ctx.unknown_key(k, None, &[WORKER_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&format!("worker.{}", k.get_ref())), message.into_message());
        }
    }
    settings
}
