//! `snapact-host sandbox`: the SnapAct Connect emulator on its own.

use std::time::Duration;

use anyhow::Context;

use super::SandboxArgs;
use crate::daemon::shutdown_signal;
use crate::sandbox::{Sandbox, SandboxConfig, SandboxKey};

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
        ..SandboxConfig::default()
    })
    .context("invalid sandbox configuration")?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "SnapAct sandbox on http://{addr}  (GET /sandbox/items, /sandbox/stats; Ctrl-C stops)"
    );
    sandbox.run(listener, shutdown_signal()).await?;
    Ok(0)
}
