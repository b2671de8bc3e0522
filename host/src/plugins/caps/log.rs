//! Capability `log`, and the plugin's stdout and stderr: lines into the plugin's log, which
//! tenant admins read. Capped per call in bytes; lines over the cap are dropped and counted.
//! Plugin output never goes to the host's own log (it may carry personal data).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime::component::Linker;

use super::CallState;
use super::{Capability, Factor, Setup, View};
use crate::plugins::abi::latest::log::{self as binding, Host, Level};
use crate::store::Store;

/// The call's log (stdout and stderr write into it whatever the grants).
pub struct State {
    log: LogBuffer,
}

pub fn configure(setup: &Setup<'_>) -> anyhow::Result<State> {
    Ok(State {
        log: setup.log.clone(),
    })
}

pub fn link(l: &mut Linker<CallState>) -> wasmtime::Result<()> {
    binding::add_to_linker::<_, Factor<State>>(l, |s| s.view(|f| &mut f.log))
}

/// Where a line came from.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The log of one call: lines kept in order until the call ends.
#[derive(Clone)]
pub struct LogBuffer(Arc<Mutex<Inner>>);

#[derive(Default)]
struct Inner {
    lines: Vec<(&'static str, String)>,
    bytes: usize,
    cap: usize,
    dropped: u64,
    partial: [Vec<u8>; 2],
}

impl Inner {
    fn push(&mut self, level: &'static str, line: &str) {
        let line = line.trim_end_matches(['\r', '\n']);
        if self.bytes + line.len() > self.cap {
            self.dropped += 1;
            return;
        }
        self.bytes += line.len();
        self.lines.push((level, line.to_string()));
    }
}

impl LogBuffer {
    pub fn new(cap: usize) -> Self {
        Self(Arc::new(Mutex::new(Inner {
            cap,
            ..Inner::default()
        })))
    }

    /// A stdout or stderr for the plugin's WASI context.
    pub fn pipe(&self, stream: Stream) -> Pipe {
        Pipe {
            log: self.clone(),
            stream,
        }
    }

    fn push(&self, level: &'static str, line: &str) {
        if let Ok(mut i) = self.0.lock() {
            i.push(level, line);
        }
    }

    /// The call's lines (with unterminated output as a last line) and how many were dropped.
    pub fn take(&self) -> (Vec<(&'static str, String)>, u64) {
        let Ok(mut i) = self.0.lock() else {
            return (Vec::new(), 0);
        };
        for (n, level) in [(0, "info"), (1, "warn")] {
            let rest = std::mem::take(&mut i.partial[n]);
            if !rest.is_empty() {
                i.push(level, &String::from_utf8_lossy(&rest));
            }
        }
        (std::mem::take(&mut i.lines), std::mem::take(&mut i.dropped))
    }
}

/// Stores a call's log lines (and a count of the dropped ones) under the plugin's name.
pub async fn persist(store: &Store, tenant: &str, plugin: &str, log: &LogBuffer) {
    let (mut lines, dropped) = log.take();
    if dropped > 0 {
        lines.push((
            "warn",
            format!("{dropped} more lines were dropped: the per-call log limit was reached"),
        ));
    }
    if lines.is_empty() {
        return;
    }
    if let Err(e) = store.append_plugin_log(tenant, plugin, &lines).await {
        tracing::warn!("cannot store a plugin's log: {e}");
    }
}

/// The plugin's stdout or stderr: split into lines, `info` and `warn`.
pub struct Pipe {
    log: LogBuffer,
    stream: Stream,
}

impl wasmtime_wasi::cli::IsTerminal for Pipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for Pipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(Pipe {
            log: self.log.clone(),
            stream: self.stream,
        })
    }
}

impl tokio::io::AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let (n, level) = match self.stream {
            Stream::Stdout => (0, "info"),
            Stream::Stderr => (1, "warn"),
        };
        if let Ok(mut i) = self.log.0.lock() {
            i.partial[n].extend_from_slice(buf);
            while let Some(pos) = i.partial[n].iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = i.partial[n].drain(..=pos).collect();
                i.push(level, &String::from_utf8_lossy(&line));
            }
            // An endless line is cut, so the buffer stays bounded.
            if i.partial[n].len() > 4096 {
                let line = std::mem::take(&mut i.partial[n]);
                i.push(level, &String::from_utf8_lossy(&line));
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Host for View<'_, State> {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        // Logging is not counted against the host-call cap (the log's byte cap bounds it).
        let Some(s) = self.state.as_deref_mut() else {
            wasmtime::bail!("called the ungranted capability {}", Capability::Log.name());
        };
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        s.log.push(level, &message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn output_is_split_into_lines_and_capped() {
        let log = LogBuffer::new(20);
        let mut out = log.pipe(Stream::Stdout);
        out.write_all(b"first line\nsec").await.unwrap();
        out.write_all(b"ond\n").await.unwrap();
        log.push("error", "this line is over the cap");
        let mut err = log.pipe(Stream::Stderr);
        err.write_all(b"tail").await.unwrap();
        let (lines, dropped) = log.take();
        assert_eq!(
            lines,
            vec![
                ("info", "first line".to_string()),
                ("info", "second".to_string()),
                ("warn", "tail".to_string())
            ]
        );
        assert_eq!(dropped, 1);
    }
}
