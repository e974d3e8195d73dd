//! `snapact-host sandbox`: the SnapAct Connect emulator on its own.

use std::time::Duration;

use anyhow::Context;

use super::SandboxArgs;
use crate::daemon::shutdown_signal;
use crate::sandbox::{Sandbox, SandboxConfig, SandboxKey, SandboxWebhook};

pub(super) async fn run(args: SandboxArgs) -> anyhow::Result<u8> {
    let keys = args
        .keys
        .iter()
        .map(|k| k.parse::<SandboxKey>())
        .collect::<Result<Vec<_>, _>>()
        .context("invalid --key (expected TENANT=KEY or KEY)")?;
    let sandbox = Sandbox::new(SandboxConfig {
        keys,
        fail_rate: args.fail_rate,
        rate_limit_per_min: args.rate_limit_per_min,
        latency: Duration::from_millis(args.latency_ms),
        drop_after_apply_rate: args.drop_after_apply_rate,
        seed: args.seed,
        webhooks: webhooks(&args.webhooks, &args.webhook_secrets)?,
        ..SandboxConfig::default()
    })
    .context("invalid sandbox configuration")?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "SnapAct sandbox on http://{addr}  (GET /sandbox/items, /sandbox/stats, /sandbox/orders; \
         POST /sandbox/orders; Ctrl-C stops)"
    );
    sandbox.run(listener, shutdown_signal()).await?;
    Ok(0)
}

/// Pairs `--webhook TENANT=URL` with `--webhook-secret TENANT=SECRET`.
fn webhooks(urls: &[String], secrets: &[String]) -> anyhow::Result<Vec<SandboxWebhook>> {
    let split = |flag: &str, v: &str| -> anyhow::Result<(String, String)> {
        match v.split_once('=') {
            Some((t, x)) if !t.is_empty() && !x.is_empty() => Ok((t.to_string(), x.to_string())),
            // Never echo the value: it may be a secret.
            _ => anyhow::bail!("{flag} must be TENANT=VALUE, neither part empty"),
        }
    };
    let mut secret_of = std::collections::HashMap::new();
    for s in secrets {
        let (tenant, secret) = split("--webhook-secret", s)?;
        secret_of.insert(tenant, secret);
    }
    let mut out = Vec::new();
    for u in urls {
        let (tenant, url) = split("--webhook", u)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("--webhook {tenant}=...: {url:?} is not an http(s) URL");
        }
        let Some(secret) = secret_of.remove(&tenant) else {
            anyhow::bail!(
                "--webhook {tenant}=... has no --webhook-secret {tenant}=SECRET to sign with"
            );
        };
        out.push(SandboxWebhook {
            tenant,
            url,
            secret: secret.into(),
        });
    }
    if let Some(tenant) = secret_of.keys().next() {
        anyhow::bail!("--webhook-secret {tenant}=... has no --webhook {tenant}=URL");
    }
    Ok(out)
}
