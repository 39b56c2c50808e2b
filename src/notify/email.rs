//! Email alerts over SMTP (`[notify.email]`): failure, dead and missed runs
//! by default, rate-limited per job and event, with a plain-text and an HTML
//! body. The SMTP server comes from `smtp_url`, else `SMTP_URL`, else
//! `SMTP_HOST`/`SMTP_PORT`/`SMTP_USER`/`SMTP_PASSWORD`, else the Mailgun
//! add-on's `MAILGUN_SMTP_SERVER`/`_PORT`/`_LOGIN`/`_PASSWORD`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use maud::html;

use super::Notification;
use super::record::{self, Channel, Outcome};
use crate::config::{EmailSettings, Event};

/// Why email alerts cannot be sent: no SMTP server, or a message that
/// cannot be built. Each is logged; alerts never stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no SMTP server: set smtp_url, SMTP_URL or SMTP_HOST")]
    NoServer,
    #[error("SMTP port is not a number")]
    Port,
    #[error("{0}")]
    Smtp(lettre::transport::smtp::Error),
    #[error("{field} {address:?}: {reason}")]
    Address { field: &'static str, address: String, reason: lettre::address::AddressError },
    #[error("{0}")]
    Message(lettre::error::Error),
}

/// The SMTP transport from the settings or the environment.
fn transport(settings: &EmailSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, Error> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(url) = settings.smtp_url.clone().or_else(|| env("SMTP_URL")) {
        return AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).map(|b| b.build()).map_err(Error::Smtp);
    }
    let (host, port, user, password) = match env("SMTP_HOST") {
        Some(host) => (host, env("SMTP_PORT"), env("SMTP_USER"), env("SMTP_PASSWORD")),
        None => match env("MAILGUN_SMTP_SERVER") {
            Some(host) => {
                (host, env("MAILGUN_SMTP_PORT"), env("MAILGUN_SMTP_LOGIN"), env("MAILGUN_SMTP_PASSWORD"))
            }
            None => return Err(Error::NoServer),
        },
    };
    let port: u16 = port.as_deref().unwrap_or("587").parse().map_err(|_| Error::Port)?;
    // Port 465 speaks TLS from the start; others upgrade with STARTTLS.
    let builder = if port == 465 {
        AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
    }
    .map_err(Error::Smtp)?
    .port(port);
    let builder = match (user, password) {
        (Some(u), Some(p)) => builder.credentials(Credentials::new(u, p)),
        _ => builder,
    };
    Ok(builder.build())
}

/// The message for a notification: plain text and HTML.
pub fn message(settings: &EmailSettings, n: &Notification) -> Result<Message, Error> {
    let from: Mailbox =
        settings.from.parse().map_err(|reason| bad_address("from", &settings.from, reason))?;
    let mut builder = Message::builder().from(from).subject(subject(n));
    for to in &settings.to {
        builder = builder.to(to.parse::<Mailbox>().map_err(|reason| bad_address("to", to, reason))?);
    }
    let details = details(n);
    let plain = format!(
        "{}\n\n{}\n",
        plain_text(n),
        details.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")
    );
    let html = html_body(n, &details);
    builder.multipart(MultiPart::alternative_plain_html(plain, html)).map_err(Error::Message)
}

fn bad_address(field: &'static str, address: &str, reason: lettre::address::AddressError) -> Error {
    Error::Address { field, address: address.to_owned(), reason }
}

/// The HTML part: the summary and a table of the details, a maud template,
/// so job names, reasons and ids from payloads are escaped where they are
/// interpolated.
fn html_body(n: &Notification, details: &[(&'static str, String)]) -> String {
    html! {
        p { (plain_text(n)) }
        table {
            @for (key, value) in details {
                tr { th align="left" { (key) } td { (value) } }
            }
        }
    }
    .into_string()
}

fn subject(n: &Notification) -> String {
    let what = match n.event {
        Event::Failed => "failed",
        Event::Dead => "dead-lettered",
        Event::Missed => "missed ticks",
        Event::Skipped => "skipped a tick",
        Event::Recovered => "recovered",
        Event::Late => "has not started",
        Event::LongRunning => "is still running",
        Event::Unserved => return format!("[campanile] queue {} has no live worker", n.queue),
        Event::Served => return format!("[campanile] queue {} is served again", n.queue),
        Event::NoLeader => return "[campanile] no clock is leading".to_owned(),
        Event::LeaderBack => return "[campanile] a clock leads again".to_owned(),
    };
    let why = n.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    format!("[campanile] {} {what}{why}", n.job)
}

/// The notification's text without chat markup.
fn plain_text(n: &Notification) -> String {
    n.text
        .split_once(' ')
        .filter(|(emoji, _)| emoji.starts_with(':'))
        .map_or(n.text.clone(), |(_, rest)| rest.to_owned())
        .replace('`', "")
}

fn details(n: &Notification) -> Vec<(&'static str, String)> {
    let mut out =
        vec![("event", n.event.name().to_owned()), ("job", n.job.clone()), ("queue", n.queue.clone())];
    let optional = [
        ("id", n.id.clone()),
        ("scheduled at", n.scheduled_at.clone()),
        ("attempt", n.attempt.map(|a| a.to_string())),
        ("reason", n.reason.clone()),
        ("exit code", n.exit_code.map(|c| c.to_string())),
        ("ticks", n.count.map(|c| c.to_string())),
        ("for", n.elapsed_secs.map(|s| crate::duration::Span::from_secs(s).to_string())),
        ("pending", n.depth.map(|d| d.to_string())),
        ("live workers", n.workers.map(|w| w.to_string())),
    ];
    out.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
    out.push(("at", n.at.clone()));
    out
}

/// Sends queued notifications by email, at most one per job and event per
/// rate-limit window; jobs that are not in the config count as one job.
pub(crate) async fn deliver(settings: EmailSettings, mut rx: tokio::sync::mpsc::Receiver<Notification>) {
    let transport = match transport(&settings) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "email alerts disabled");
            return;
        }
    };
    // Keyed by configured job names only (the rest share one key), so
    // forged names in payloads cannot grow it.
    let mut last_sent: HashMap<(String, Event), Instant> = HashMap::new();
    while let Some(n) = rx.recv().await {
        let key = (n.job_key().to_owned(), n.event);
        if last_sent.get(&key).is_some_and(|t| t.elapsed() < settings.rate_limit) {
            tracing::debug!(job = %n.job, event = n.event.name(), "email rate-limited");
            continue;
        }
        let message = match message(&settings, &n) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot build alert email");
                continue;
            }
        };
        let started = Instant::now();
        let logged = |outcome, error: Option<&str>| {
            let target = record::email_target(&settings.to);
            record::note(record::entry(
                Channel::Email,
                n.event.name(),
                &n.job,
                target,
                outcome,
                1,
                error,
                started,
            ));
        };
        match tokio::time::timeout(Duration::from_secs(30), transport.send(message)).await {
            Ok(Ok(_)) => {
                last_sent.insert(key, Instant::now());
                crate::metrics::METRICS
                    .notifications
                    .get_or_create(&crate::metrics::labels(&[("result", "delivered")]))
                    .inc();
                logged(Outcome::Delivered, None);
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "alert email not sent");
                crate::metrics::METRICS
                    .notifications
                    .get_or_create(&crate::metrics::labels(&[("result", "failed")]))
                    .inc();
                logged(Outcome::Failed, Some(&e.to_string()));
            }
            Err(_) => {
                tracing::warn!("alert email timed out");
                logged(Outcome::Failed, Some("timed out after 30s"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_part_is_the_summary_and_the_details_escaped() {
        let n = super::super::build::run(
            Event::Dead,
            "<b>job</b>",
            "default",
            r#"id "1" & 2"#,
            "2026-11-23T08:00:00Z",
            1,
            Some("exit status 3".into()),
            Some(3),
            "2026-11-23T08:00:01Z",
            false,
        );
        let html = html_body(&n, &details(&n)[..3]);
        assert_eq!(
            html,
            "<p>campanile: &lt;b&gt;job&lt;/b&gt; dead-lettered (exit status 3) after 1 attempt(s)</p><table>\
             <tr><th align=\"left\">event</th><td>dead</td></tr>\
             <tr><th align=\"left\">job</th><td>&lt;b&gt;job&lt;/b&gt;</td></tr>\
             <tr><th align=\"left\">queue</th><td>default</td></tr></table>"
        );
        assert!(html_body(&n, &details(&n)).contains("<td>id &quot;1&quot; &amp; 2</td>"));
    }
}
