//! `[notify]`: webhooks and email, each filtered by event and job.

use super::*;

pub(super) const NOTIFY_KEYS: &[&str] = &["webhooks", "email"];

pub(super) const EMAIL_KEYS: &[&str] = &["to", "from", "events", "jobs", "smtp_url", "rate_limit"];

pub(super) const WEBHOOK_KEYS: &[&str] = &["url", "events", "jobs"];

pub(super) fn validate_notify(
    ctx: &mut Ctx<'_>,
    value: &Spanned<DeValue<'_>>,
    jobs: &[Job],
) -> (Vec<Webhook>, Option<EmailSettings>) {
    let mut hooks = Vec::new();
    let mut email = None;
    let Some(table) = table_of(ctx, value, None, "notify") else { return (hooks, email) };
    for (k, v) in table {
        if k.get_ref() == "email" {
            email = validate_email(ctx, v, jobs);
            continue;
        }
        if k.get_ref() != "webhooks" {
            ctx.unknown_key(k, None, &[NOTIFY_KEYS]);
            continue;
        }
        let Some(items) = v.get_ref().as_array() else {
            ctx.error(
                &v.span(),
                None,
                Some("notify.webhooks"),
                "expected an array of tables ([[notify.webhooks]])".into(),
            );
            continue;
        };
        for item in items.iter() {
            if let Some(hook) = validate_webhook(ctx, item, jobs) {
                hooks.push(hook);
            }
        }
    }
    (hooks, email)
}

pub(super) fn validate_email(
    ctx: &mut Ctx<'_>,
    value: &Spanned<DeValue<'_>>,
    jobs: &[Job],
) -> Option<EmailSettings> {
    let table = table_of(ctx, value, None, "notify.email")?;
    let before = ctx.errors.len();
    let mut email = EmailSettings {
        to: Vec::new(),
        from: String::new(),
        events: Event::EMAIL_DEFAULT.to_vec(),
        jobs: None,
        smtp_url: None,
        rate_limit: std::time::Duration::from_secs(600),
    };
    for (k, v) in table {
        let field = format!("notify.email.{}", k.get_ref());
        let value = v.get_ref();
        let result = match k.get_ref().as_ref() {
            "to" => string_list(value).and_then(|to| {
                if to.is_empty() {
                    return Err("needs at least one address".into());
                }
                email.to = to;
                Ok(())
            }),
            "from" => as_str(value).and_then(non_empty).map(|f| email.from = f.to_owned()),
            "events" => string_list(value).and_then(|names| {
                email.events = names
                    .iter()
                    .map(|n| Event::parse(n).ok_or_else(|| format!("unknown event {n:?}")))
                    .collect::<Result<_, _>>()?;
                Ok(())
            }),
            "jobs" => string_list(value).and_then(|names| {
                if let Some(unknown) =
                    names.iter().find(|n| !jobs.iter().any(|j| j.name.as_str() == n.as_str()))
                {
                    return Err(invalid!("no job named {unknown:?}"));
                }
                email.jobs = Some(names);
                Ok(())
            }),
            "smtp_url" => as_str(value).and_then(|u| {
                if u.starts_with("smtp://") || u.starts_with("smtps://") {
                    email.smtp_url = Some(u.to_owned());
                    Ok(())
                } else {
                    Err("expected an smtp:// or smtps:// URL".into())
                }
            }),
            "rate_limit" => as_span(value).map(|s| email.rate_limit = s.as_duration()),
            _ => {
                ctx.unknown_key(k, None, &[EMAIL_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&field), message.into_message());
        }
    }
    for required in ["to", "from"] {
        if !table.contains_key(required) {
            ctx.error(&value.span(), None, Some(&format!("notify.email.{required}")), "missing".into());
        }
    }
    (ctx.errors.len() == before).then_some(email)
}

pub(super) fn validate_webhook(
    ctx: &mut Ctx<'_>,
    value: &Spanned<DeValue<'_>>,
    jobs: &[Job],
) -> Option<Webhook> {
    let table = table_of(ctx, value, None, "a webhook")?;
    let before = ctx.errors.len();
    let mut hook = Webhook { url: String::new(), events: Event::WEBHOOK_DEFAULT.to_vec(), jobs: None };
    for (k, v) in table {
        let field = format!("notify.webhooks.{}", k.get_ref());
        let result = match k.get_ref().as_ref() {
            "url" => as_str(v.get_ref()).and_then(|u| {
                if u.starts_with("http://") || u.starts_with("https://") {
                    hook.url = u.to_owned();
                    Ok(())
                } else {
                    Err(invalid!("{u:?} is not an http:// or https:// URL"))
                }
            }),
            "events" => string_list(v.get_ref()).and_then(|names| {
                hook.events = names
                    .iter()
                    .map(|n| {
                        Event::parse(n).ok_or_else(|| {
                            format!(
                                "unknown event {n:?} (expected failed, dead, missed, skipped or recovered)"
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(())
            }),
            "jobs" => string_list(v.get_ref()).and_then(|names| {
                if let Some(unknown) =
                    names.iter().find(|n| !jobs.iter().any(|j| j.name.as_str() == n.as_str()))
                {
                    return Err(invalid!("no job named {unknown:?}"));
                }
                hook.jobs = Some(names);
                Ok(())
            }),
            _ => {
                ctx.unknown_key(k, None, &[WEBHOOK_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&field), message.into_message());
        }
    }
    if hook.url.is_empty() && !table.contains_key("url") {
        ctx.error(&value.span(), None, Some("notify.webhooks.url"), "missing: a webhook needs a url".into());
    }
    (ctx.errors.len() == before).then_some(hook)
}
