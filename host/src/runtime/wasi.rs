//! The WASI p2 context every call gets: nothing to read, nowhere to go.
//! No environment, arguments, preopened directories, sockets or name
//! lookups; stdin is empty; stdout and stderr become `tracing` events tagged
//! with the shop and adapter.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// Longest line logged as one event; longer output is split.
const MAX_LINE: usize = 4096;
/// Output a call may log per stream; the rest is dropped (noted once).
const MAX_PER_CALL: usize = 64 * 1024;
/// Bytes of stderr kept to explain a panic.
const TAIL: usize = 2048;

pub(crate) fn context(stdout: &GuestOutput, stderr: &GuestOutput) -> WasiCtx {
    WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// Which guest stream.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// A guest output stream that logs complete lines.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    inner: Arc<Mutex<LineLog>>,
}

struct LineLog {
    stream: Stream,
    shop: Arc<str>,
    adapter: Arc<str>,
    version: Arc<str>,
    pending: Vec<u8>,
    logged: usize,
    truncated: bool,
    tail: Vec<u8>,
}

impl GuestOutput {
    pub(crate) fn new(
        stream: Stream,
        shop: Arc<str>,
        adapter: Arc<str>,
        version: Arc<str>,
    ) -> Self {
        GuestOutput {
            inner: Arc::new(Mutex::new(LineLog {
                stream,
                shop,
                adapter,
                version,
                pending: Vec::new(),
                logged: 0,
                truncated: false,
                tail: Vec::new(),
            })),
        }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        if let Ok(mut log) = self.inner.lock() {
            log.write(bytes);
        }
    }

    /// Log what is left of an unfinished line (end of call).
    pub(crate) fn flush(&self) {
        if let Ok(mut log) = self.inner.lock() {
            let rest = std::mem::take(&mut log.pending);
            if !rest.is_empty() {
                log.emit(&rest);
            }
        }
    }

    /// The last bytes written, as text (stderr: the panic message).
    pub(crate) fn tail(&self) -> String {
        self.inner
            .lock()
            .map(|log| String::from_utf8_lossy(&log.tail).into_owned())
            .unwrap_or_default()
    }
}

impl LineLog {
    fn write(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > TAIL {
            let cut = self.tail.len() - TAIL;
            self.tail.drain(..cut);
        }
        self.pending.extend_from_slice(bytes);
        while let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            self.emit(&line);
        }
        if self.pending.len() >= MAX_LINE {
            let chunk = std::mem::take(&mut self.pending);
            self.emit(&chunk);
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        if self.logged >= MAX_PER_CALL {
            if !self.truncated {
                self.truncated = true;
                tracing::warn!(target: "adapter", shop = %self.shop, adapter = %self.adapter, version = %self.version,
                    "adapter wrote more than {MAX_PER_CALL} bytes of output in one call; the rest is dropped");
            }
            return;
        }
        self.logged += bytes.len();
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches(['\n', '\r']);
        match self.stream {
            Stream::Stdout => {
                tracing::info!(target: "adapter::stdout", shop = %self.shop, adapter = %self.adapter, version = %self.version, "{text}")
            }
            Stream::Stderr => {
                tracing::warn!(target: "adapter::stderr", shop = %self.shop, adapter = %self.adapter, version = %self.version, "{text}")
            }
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(MAX_LINE)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
