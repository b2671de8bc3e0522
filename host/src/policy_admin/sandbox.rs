//! Policy jobs: checking, testing and compiling a tenant's Rego outside the server process.
//!
//! Rego a tenant writes can ask for unbounded work (`count(numbers.range(1, 40000000))` in a test
//! or in a constant the compiler folds), and regorus evaluating it natively has no memory cap. So
//! the host never runs it in its own process: each job is a child process of the host's own
//! binary (`crm policy-job`, hidden), which limits itself before reading the job (address space,
//! CPU seconds, a lower scheduling priority) and is killed at a wall-clock deadline. At most one
//! job per tenant and a few per host run at once; others are refused or wait briefly. Only the
//! compiled module comes back, and it is evaluated in the Wasm sandbox like any other.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::set::{Build, PolicySet, Refusal};
use crate::policy::RegoTestResult;

/// What a job does with a set.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Job {
    /// Parse and compile.
    Check,
    /// Check, then run the `test_*` rules.
    Test,
    /// Test, then compile to a Wasm module.
    Build,
}

#[derive(Serialize, Deserialize)]
struct Request {
    job: Job,
    set: PolicySet,
}

/// What a job answered.
#[derive(Debug, Serialize, Deserialize)]
pub enum Outcome {
    Checked,
    Tested(Vec<RegoTestResult>),
    Built {
        tests: Vec<RegoTestResult>,
        /// The module, base64.
        wasm: String,
        mode: String,
    },
    Refused(Refusal),
}

impl Outcome {
    /// The tests and the build of a [`Job::Build`], or why the set was refused.
    pub fn into_build(self) -> Result<(Vec<RegoTestResult>, Build), Refusal> {
        match self {
            Outcome::Built { tests, wasm, mode } => Ok((
                tests,
                Build {
                    wasm: base64::engine::general_purpose::STANDARD
                        .decode(wasm)
                        .map_err(|_| invalid("the policy job answered with a malformed module"))?,
                    data: serde_json::json!({}),
                    mode,
                },
            )),
            Outcome::Refused(r) => Err(r),
            _ => Err(invalid("the policy job answered another job")),
        }
    }

    /// The test results of a [`Job::Test`] (or a build), or why the set was refused.
    pub fn into_tests(self) -> Result<Vec<RegoTestResult>, Refusal> {
        match self {
            Outcome::Tested(t) | Outcome::Built { tests: t, .. } => Ok(t),
            Outcome::Checked => Ok(Vec::new()),
            Outcome::Refused(r) => Err(r),
        }
    }
}

fn invalid(message: &str) -> Refusal {
    Refusal::Invalid(vec![message.to_string()])
}

/// Why a job did not answer.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The tenant already has a job running.
    #[error("a policy job of this tenant is already running; try again when it has finished")]
    TenantBusy,
    /// Every job slot of the host stayed taken while the job waited.
    #[error("the server is busy with other policy jobs; try again in a moment")]
    HostBusy,
    /// The job could not be run at all.
    #[error("the policy job could not run: {0}")]
    Failed(String),
}

/// Limits of one job.
#[derive(Debug, Clone, Copy)]
pub struct JobLimits {
    pub cpu_seconds: u64,
    pub memory_bytes: u64,
    pub wall: Duration,
}

impl JobLimits {
    /// 10 s of CPU, 1 GiB of address space, 30 s of wall-clock; `CRM_POLICY_JOB_CPU_SECS`,
    /// `CRM_POLICY_JOB_MEMORY_MB` and `CRM_POLICY_JOB_WALL_SECS` change them.
    pub fn from_env() -> Self {
        let var = |k: &str, default: u64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .unwrap_or(default)
        };
        Self {
            cpu_seconds: var("CRM_POLICY_JOB_CPU_SECS", 10),
            memory_bytes: var("CRM_POLICY_JOB_MEMORY_MB", 1024) << 20,
            wall: Duration::from_secs(var("CRM_POLICY_JOB_WALL_SECS", 30)),
        }
    }
}

/// Most bytes a job's request or answer may have (50 files of 256 KiB, or a module).
const MAX_IO_BYTES: usize = 64 << 20;
/// How long a job waits for one of the host's slots.
const HOST_WAIT: Duration = Duration::from_secs(10);

/// Runs policy jobs for the host: the program to start, and the bounds on how many run at once.
pub struct Jobs {
    program: PathBuf,
    limits: JobLimits,
    host: Arc<Semaphore>,
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Jobs {
    /// Jobs run by this process's own executable (the `crm` binary), `slots` at once on the host.
    pub fn new(slots: usize) -> Self {
        Self {
            program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("crm")),
            limits: JobLimits::from_env(),
            host: Arc::new(Semaphore::new(slots.max(1))),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Two slots, or one per two cores if that is more.
    pub fn for_this_host() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new((cores / 2).max(2))
    }

    /// The process's jobs: one set of slots for every tenant this host serves.
    pub fn shared() -> &'static Jobs {
        static JOBS: std::sync::OnceLock<Jobs> = std::sync::OnceLock::new();
        JOBS.get_or_init(Jobs::for_this_host)
    }

    /// The limits each job runs under.
    pub fn limits(&self) -> JobLimits {
        self.limits
    }

    /// Runs `job` on `set` for `tenant` (any label: the CLI uses the tenant's slug).
    pub async fn run(&self, tenant: &str, job: Job, set: &PolicySet) -> Result<Outcome, JobError> {
        let mine = {
            let mut tenants = self
                .tenants
                .lock()
                .map_err(|_| JobError::Failed("job table poisoned".into()))?;
            if tenants.len() > 10_000 {
                tenants.retain(|_, s| s.available_permits() == 0);
            }
            tenants
                .entry(tenant.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(1)))
                .clone()
        };
        let _tenant = mine.try_acquire_owned().map_err(|_| JobError::TenantBusy)?;
        let _host = tokio::time::timeout(HOST_WAIT, self.host.clone().acquire_owned())
            .await
            .map_err(|_| JobError::HostBusy)?
            .map_err(|_| JobError::HostBusy)?;
        let request = serde_json::to_vec(&Request {
            job,
            set: set.clone(),
        })
        .map_err(|e| JobError::Failed(e.to_string()))?;
        if request.len() > MAX_IO_BYTES {
            return Ok(Outcome::Refused(invalid("the policy set is too large")));
        }
        self.spawn(&request).await
    }

    async fn spawn(&self, request: &[u8]) -> Result<Outcome, JobError> {
        let failed = |e: std::io::Error| JobError::Failed(e.to_string());
        let mut child = tokio::process::Command::new(&self.program)
            .arg("policy-job")
            .env_clear()
            .env(
                "CRM_POLICY_JOB_CPU_SECS",
                self.limits.cpu_seconds.to_string(),
            )
            .env(
                "CRM_POLICY_JOB_MEMORY_MB",
                (self.limits.memory_bytes >> 20).to_string(),
            )
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(failed)?;
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(JobError::Failed("the job's pipes are missing".into()));
        };
        let talk = async {
            let write = async {
                stdin.write_all(request).await?;
                drop(stdin);
                std::io::Result::Ok(())
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let mut stdout = (&mut stdout).take(MAX_IO_BYTES as u64 + 1);
            let mut stderr = (&mut stderr).take(64 << 10);
            let (w, r, _) = tokio::join!(
                write,
                stdout.read_to_end(&mut out),
                stderr.read_to_end(&mut err)
            );
            // A job that died early closes its stdin: its exit status says why.
            let _ = w;
            r?;
            let status = child.wait().await?;
            std::io::Result::Ok((status, out, err))
        };
        let (status, out, err) = match tokio::time::timeout(self.limits.wall, talk).await {
            Err(_) => {
                crate::metrics::policy_job(true);
                return Ok(Outcome::Refused(invalid(&format!(
                    "the policy job was stopped: it ran longer than {} s",
                    self.limits.wall.as_secs()
                ))));
            }
            Ok(r) => r.map_err(failed)?,
        };
        let stopped = stopped_by_limit(&status, self.limits);
        crate::metrics::policy_job(stopped.is_some());
        if let Some(why) = stopped {
            return Ok(Outcome::Refused(invalid(&why)));
        }
        if !status.success() || out.len() > MAX_IO_BYTES {
            let err = String::from_utf8_lossy(&err);
            tracing::error!(%status, stderr = %err.trim(), "policy job failed");
            return Err(JobError::Failed(format!("it exited with {status}")));
        }
        serde_json::from_slice(&out).map_err(|e| JobError::Failed(e.to_string()))
    }
}

/// Why a job that ended on a signal was stopped, if a limit stopped it.
fn stopped_by_limit(status: &std::process::ExitStatus, limits: JobLimits) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match status.signal()? {
            // The kernel's answer to RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard.
            libc::SIGXCPU | libc::SIGKILL => Some(format!(
                "the policy job was stopped: CPU time limit of {} s exceeded",
                limits.cpu_seconds
            )),
            // An allocation refused under RLIMIT_AS aborts the process.
            libc::SIGABRT | libc::SIGSEGV => Some(format!(
                "the policy job was stopped: memory or stack limit exceeded ({} MiB)",
                limits.memory_bytes >> 20
            )),
            _ => None,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (status, limits);
        None
    }
}

/// The child's side (`crm policy-job`): limit this process, read one request from stdin, answer
/// on stdout. Called before any runtime or thread is started.
pub fn child_main() -> std::process::ExitCode {
    let limits = JobLimits::from_env();
    if let Err(e) = limit_self(limits) {
        eprintln!("policy job: cannot set limits: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(
        &mut std::io::Read::take(std::io::stdin(), MAX_IO_BYTES as u64 + 1),
        &mut input,
    ) {
        eprintln!("policy job: cannot read the request: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let outcome = match serde_json::from_slice::<Request>(&input) {
        Err(e) => Outcome::Refused(invalid(&format!("malformed policy job: {e}"))),
        Ok(r) => run_here(r.job, &r.set),
    };
    match serde_json::to_writer(std::io::stdout().lock(), &outcome) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("policy job: cannot write the answer: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a job in this process: only ever inside a limited child.
fn run_here(job: Job, set: &PolicySet) -> Outcome {
    let result = match job {
        Job::Check => set.check().map(|()| Outcome::Checked),
        Job::Test => set.test().map(Outcome::Tested),
        Job::Build => set.test().and_then(|tests| {
            set.build().map(|b| Outcome::Built {
                tests,
                wasm: base64::engine::general_purpose::STANDARD.encode(&b.wasm),
                mode: b.mode,
            })
        }),
    };
    result.unwrap_or_else(Outcome::Refused)
}

#[cfg(unix)]
fn limit_self(limits: JobLimits) -> std::io::Result<()> {
    let set = |resource, soft: u64, hard: u64| {
        let limit = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: `setrlimit` reads one valid `rlimit`.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    set(libc::RLIMIT_AS, limits.memory_bytes, limits.memory_bytes)?;
    set(libc::RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)?;
    // No core files from a job stopped by a limit.
    set(libc::RLIMIT_CORE, 0, 0)?;
    // The server's own threads come first when a core is contended.
    // SAFETY: `setpriority` on this process only.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
    Ok(())
}

#[cfg(not(unix))]
fn limit_self(_: JobLimits) -> std::io::Result<()> {
    Ok(())
}
