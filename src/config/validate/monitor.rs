//! `[monitor]`: when the silence of a queue or of every clock is reported,
//! and the outside monitor the leading clock pings.

use super::*;

pub(super) const MONITOR_KEYS: &[&str] =
    &["unserved_after", "no_leader_after", "heartbeat_url", "heartbeat_every"];

pub(super) fn validate_monitor(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> MonitorSettings {
    let mut settings = MonitorSettings::default();
    let Some(table) = table_of(ctx, value, None, "monitor") else { return settings };
    for (k, v) in table {
        let value = v.get_ref();
        let result = match k.get_ref().as_ref() {
            "unserved_after" => positive_span(value).map(|s| settings.unserved_after = s),
            "no_leader_after" => positive_span(value).map(|s| settings.no_leader_after = s),
            "heartbeat_url" => {
                as_str(value).and_then(http_url).map(|u| settings.heartbeat_url = Some(u.to_owned()))
            }
            "heartbeat_every" => positive_span(value).map(|s| settings.heartbeat_every = s),
            _ => {
                ctx.unknown_key(k, None, &[MONITOR_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&format!("monitor.{}", k.get_ref())), message.into_message());
        }
    }
    settings
}
