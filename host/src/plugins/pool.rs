//! The call pool: where plugin code runs, apart from the threads that serve HTTP.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where plugin code runs: a Tokio runtime of its own, so guest code never occupies a thread
/// that serves HTTP. At most [`TENANT_CALLS`] calls of one tenant run at once and
/// [`HOST_CALLS`] in all; a tenant's further calls wait behind its own (so one tenant cannot
/// take every slot), for at most the call's wall-clock ceiling.
pub struct CallPool {
    handle: tokio::runtime::Handle,
    host: Arc<tokio::sync::Semaphore>,
    tenants: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// Calls of one tenant's plugins running at once.
pub const TENANT_CALLS: usize = 4;
/// Calls running at once in all, per core.
const CALLS_PER_CORE: usize = 8;

impl CallPool {
    /// The process's pool (started on first use; it lives as long as the process).
    pub fn get() -> &'static CallPool {
        static POOL: std::sync::OnceLock<(tokio::runtime::Runtime, CallPool)> =
            std::sync::OnceLock::new();
        &POOL
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(cores)
                    .thread_name("plugin-call")
                    .enable_all()
                    .build()
                    .expect("the plugin call runtime starts");
                let pool = CallPool {
                    handle: rt.handle().clone(),
                    host: Arc::new(tokio::sync::Semaphore::new(cores * CALLS_PER_CORE)),
                    tenants: Mutex::new(HashMap::new()),
                };
                (rt, pool)
            })
            .1
    }

    fn tenant(&self, tenant: &str) -> Arc<tokio::sync::Semaphore> {
        let mut m = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 10_000 {
            m.retain(|_, s| s.available_permits() < TENANT_CALLS);
        }
        m.entry(tenant.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(TENANT_CALLS)))
            .clone()
    }

    /// Runs `work` on the pool once a slot of the tenant and one of the host are free. Dropping
    /// the returned future stops the work.
    pub async fn run<T: Send + 'static>(
        &self,
        tenant: &str,
        wait: Duration,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Refused> {
        let mine = self.tenant(tenant);
        let permits = async {
            let t = mine.acquire_owned().await.ok()?;
            let h = self.host.clone().acquire_owned().await.ok()?;
            Some((t, h))
        };
        let Ok(Some(permits)) = tokio::time::timeout(wait, permits).await else {
            return Err(Refused::Busy);
        };
        let task = self.handle.spawn(async move {
            let _permits = permits;
            work.await
        });
        // Aborted if the caller goes away (a client that disconnected).
        struct AbortOnDrop(tokio::task::AbortHandle);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let _guard = AbortOnDrop(task.abort_handle());
        task.await.map_err(|e| Refused::Lost(e.to_string()))
    }
}

/// Why the pool did not give back the work's result.
#[derive(Debug)]
pub enum Refused {
    /// No slot of the tenant or the host came free in time.
    Busy,
    /// The task ended without a result (it panicked or the pool shut down).
    Lost(String),
}
