//! `hostile`: a plugin that attacks its host, one attack per screen. It exists only for the host's
//! hostile-plugin tests, which check that each attack is contained (a trap or a limit for the
//! call, nothing leaked, the host unharmed). **Never install it in production.**
//!
//! Screens: `main` (harmless), `loop`, `memory`, `recursion`, `trap`, `panic`, `output`,
//! `big-output`, `flood`,
//! `other-tenant`, `escape-dotdot`, `escape-absolute`, `escape-symlink`, `scratch-ok`,
//! `log-flood`, `remember`. The `escape-*` screens return one key-value line per attempt, `blocked: <kind>`
//! or `LEAKED: <first 40 bytes>`.
//!
//! Attacks on the work the host does for a plugin: `query-storm` (a records query with hundreds
//! of conditions, after filling the collection), `stash` (256 KiB documents until refused),
//! `shared-buffer` (six strings over one 2 MiB buffer: 12 MiB for the host to copy),
//! `wide-table` (2,000 rows × 20 row actions), `regex-bomb` (a form of 50 fields whose patterns
//! are expensive to compile, with action `regex-bomb`), `bad-link` (links out of the plugin's
//! screens), and the jobs `grind-a` to `grind-d` (each runs until its budget is spent).

use std::hint::black_box;
use std::io::{self, Write};

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{Notice, customers, log};

pub struct Hostile;

/// Every screen, in manifest order; only `main` is in the menu.
pub const SCREENS: [&str; 22] = [
    "main",
    "loop",
    "memory",
    "recursion",
    "trap",
    "panic",
    "output",
    "big-output",
    "flood",
    "other-tenant",
    "escape-dotdot",
    "escape-absolute",
    "escape-symlink",
    "scratch-ok",
    "log-flood",
    "remember",
    "query-storm",
    "stash",
    "shared-buffer",
    "wide-table",
    "regex-bomb",
    "bad-link",
];

/// Jobs that run until their budget is spent.
pub const GRIND: [&str; 4] = ["grind-a", "grind-b", "grind-c", "grind-d"];

/// Documents `query-storm` and `stash` write.
static STORM: crm_plugin_sdk::records::Collection<serde_json::Value> =
    crm_plugin_sdk::records::Collection::new("storm");

/// Host calls made by `flood`.
const FLOOD_CALLS: u32 = 1_000_000;
/// A customer id that exists nowhere (`flood` ignores the `not-found`).
const FLOOD_ID: &str = "6f1c2b9e-3d4a-4e8b-9c7d-0a1b2c3d4e5f";
/// Lines written by `log-flood` to each of `log`, stdout and stderr.
const LOG_LINES: u32 = 100_000;

impl Plugin for Hostile {
    fn manifest() -> Manifest {
        let mut m = ManifestBuilder::new("hostile", env!("CARGO_PKG_VERSION"), en("hostile"))
            .description(en(
                "Attacks the host, one attack per screen: for the host's tests only.",
            ))
            .capability(Capability::Customers, en("flood and other-tenant"))
            .capability(Capability::Log, en("log-flood"))
            .capability(Capability::Scratch, en("escape-* and scratch-ok"))
            .capability(Capability::Records, en("query-storm and stash"))
            .collection("storm", ["a", "b", "c", "d", "e", "f", "g", "h"])
            .action("regex-bomb", en("regex-bomb"), false);
        for job in GRIND {
            m = m.job(job, en(job), crm_plugin_sdk::Schedule::Manual);
        }
        for name in SCREENS {
            m = m.screen(name, en(name), name == "main");
        }
        m.build()
    }

    fn act(request: ActionRequest) -> Result<ActionOutcome, Error> {
        match request.action.as_str() {
            // Reached only if the host let a submission through: report what got here.
            "regex-bomb" => Ok(ActionOutcome {
                notice: Some(Notice {
                    text: en(format!(
                        "{} inputs reached the plugin",
                        request.inputs.len()
                    )),
                    tone: Tone::Danger,
                }),
                next: Next::Refresh,
            }),
            _ => Err(Error::NotFound),
        }
    }

    fn run_job(request: JobRequest) -> Result<JobReport, Error> {
        match request.job.as_str() {
            job if GRIND.contains(&job) => spin(),
            _ => Err(Error::NotFound),
        }
    }

    fn render(request: ScreenRequest) -> Result<Screen, Error> {
        match request.screen.as_str() {
            "main" => Ok(screen("hostile")
                .heading("hostile")
                .text("Not attacking right now.")
                .build()),
            "loop" => spin(),
            "memory" => hoard(),
            "recursion" => Ok(screen("recursion")
                .key_values([(en("depth"), cell::integer(recurse(0) as i64))])
                .build()),
            "trap" => trap(),
            "panic" => panic!("hostile panic"),
            "output" => Ok(screen("output").text("x".repeat(100 << 20)).build()),
            // Fits in memory, but is over the host's output cap (1 MiB of screen JSON).
            "big-output" => Ok(screen("big-output").text("x".repeat(3 << 19)).build()),
            "flood" => flood(),
            "other-tenant" => {
                let customer = customers::get(request.params.required("id")?)?;
                Ok(screen("other-tenant")
                    .key_values([(en("name"), cell::personal(&customer.name))])
                    .build())
            }
            "escape-dotdot" => Ok(report(
                "escape-dotdot",
                [read("/scratch/../../../../etc/passwd"), list("/scratch/..")],
            )),
            "escape-absolute" => Ok(report(
                "escape-absolute",
                [read("/etc/passwd"), write("/tmp/hostile-escape")],
            )),
            "escape-symlink" => Ok(report(
                "escape-symlink",
                [
                    // Deep enough to reach the host's `/` from wherever the scratch dir lives.
                    plant("../../../../../../../../../../../..", "/scratch/link"),
                    plant("/etc", "/scratch/link-etc"),
                    read("/scratch/link/etc/passwd"),
                    read("/scratch/link-etc/passwd"),
                    // `planted` is a symlink to the host's `/etc` that the test makes.
                    read("/scratch/planted/passwd"),
                ],
            )),
            "scratch-ok" => {
                let written = std::fs::write("/scratch/note.txt", "hello");
                let content = std::fs::read_to_string("/scratch/note.txt");
                Ok(screen("scratch-ok")
                    .key_values([
                        (en("write"), cell::text(outcome(written.map(|()| "ok")))),
                        (en("content"), cell::text(outcome(content))),
                    ])
                    .build())
            }
            "log-flood" => Ok(log_flood()),
            "remember" => Ok(remember()),
            "query-storm" => query_storm(),
            "stash" => stash(),
            "shared-buffer" => Ok(shared_buffer()),
            "wide-table" => Ok(wide_table()),
            "regex-bomb" => Ok(regex_bomb()),
            "bad-link" => Ok(screen("bad-link")
                .key_values([(
                    en("out"),
                    cell::link(en("customers"), ScreenRef::to("../../customers")),
                )])
                .build()),
            _ => Err(Error::NotFound),
        }
    }
}

/// Adds 50 documents to `storm` (until it has a few hundred), then asks for them with 300
/// conditions; reports what the host answered to each.
fn query_storm() -> Result<Screen, Error> {
    use crm_plugin_sdk::records::Query;
    let (have, _) = STORM.query(Query::new().limit(100))?;
    if have.len() < 100 {
        for i in 0..50 {
            let doc = serde_json::json!({"a": i % 7, "b": i % 5, "c": "x", "d": true});
            STORM.insert(None, &doc)?;
        }
    }
    let mut storm = Query::new().limit(100);
    for i in 0..300 {
        storm = storm.eq(["a", "b", "c", "d", "e", "f", "g", "h"][i % 8], i as i64);
    }
    let refused = match STORM.query(storm) {
        Ok(_) => "ran".to_string(),
        Err(e) => format!("refused: {e:?}"),
    };
    let mut widest = Query::new().limit(100);
    for f in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        widest = widest.eq(f, 1);
    }
    let widest = match STORM.query(widest) {
        Ok((docs, _)) => format!("ran: {} documents", docs.len()),
        Err(e) => format!("refused: {e:?}"),
    };
    Ok(screen("query-storm")
        .key_values([
            (en("300 conditions"), cell::text(refused)),
            (en("8 conditions"), cell::text(widest)),
        ])
        .build())
}

/// Stores 256 KiB documents until the host refuses one; reports how many it took.
fn stash() -> Result<Screen, Error> {
    let blob = "x".repeat((256 << 10) - 64);
    let mut stored = 0;
    let refusal = loop {
        match STORM.insert(None, &serde_json::json!({ "blob": blob })) {
            Ok(_) => stored += 1,
            Err(e) => break format!("{e:?}"),
        }
        if stored >= 1_000 {
            break "never refused".to_string();
        }
    };
    Ok(screen("stash")
        .key_values([
            (en("stored"), cell::integer(stored)),
            (en("refusal"), cell::text(refusal)),
        ])
        .build())
}

/// Six strings over the same 2 MiB buffer: a host that copied each would copy 12 MiB.
fn shared_buffer() -> Screen {
    let buffer = std::mem::ManuallyDrop::new("x".repeat(2 << 20));
    // SAFETY: none of these strings is ever dropped or changed (the screen is handed to the
    // host as it is and the instance is thrown away after the call): they only alias the one
    // buffer, which is the attack.
    let alias = || unsafe {
        std::mem::ManuallyDrop::new(String::from_raw_parts(
            buffer.as_ptr() as *mut u8,
            buffer.len(),
            buffer.capacity(),
        ))
    };
    let mut s = screen("shared-buffer");
    for _ in 0..6 {
        s = s.text(std::mem::ManuallyDrop::into_inner(alias()));
    }
    s.build()
}

/// 2,000 rows with 20 row actions each: small to hand over, huge once every row's actions are
/// rendered.
fn wide_table() -> Screen {
    let mut table = TableBuilder::new("wide").column("n", en("n"));
    for i in 0..20 {
        table = table.row_action(format!("act-{i}"), en(format!("act {i}")));
    }
    let rows: Vec<i64> = (0..2_000).collect();
    let table = table.rows(&rows, |n: &i64| (n.to_string(), vec![cell::integer(*n)]));
    screen("wide-table").table(table).build()
}

/// A form of 50 fields, each with a pattern that is expensive to compile.
fn regex_bomb() -> Screen {
    let mut form = FormBuilder::new("bomb", "regex-bomb", en("Submit"));
    for i in 0..50 {
        form = form.field(
            FieldBuilder::text(format!("f{i}"), en(format!("f{i}"))).pattern(r"\w{500}\w{500}"),
        );
    }
    screen("regex-bomb").form(form).build()
}

crm_plugin_sdk::export_plugin!(Hostile);

/// A static with a value in the data segment, one in the zeroed segment, and a heap block.
static DATA: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(7);
static BSS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
const MARK: u8 = 0xAB;
const BLOCK: usize = 256 << 10;

/// Tries to see what an earlier call left behind: both statics (then bumps them) and how many
/// bytes of a fresh heap block already hold the marker (then marks the block and leaks it). A
/// fresh instance answers 7, 0 and 0 every time.
fn remember() -> Screen {
    use std::sync::atomic::Ordering::Relaxed;
    let (data, bss) = (DATA.fetch_add(1, Relaxed), BSS.fetch_add(1, Relaxed));
    let layout = std::alloc::Layout::from_size_align(BLOCK, 16).expect("layout");
    // SAFETY: a valid layout; the block is read as bytes (whatever they hold, which is the
    // point: a host that did not reset memory would show the last call's marker) and leaked.
    let seen = unsafe {
        let p = std::alloc::alloc(layout);
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        let seen = (0..BLOCK)
            .filter(|i| std::ptr::read_volatile(p.add(*i)) == MARK)
            .count();
        std::ptr::write_bytes(p, MARK, BLOCK);
        seen
    };
    screen("remember")
        .key_values([
            (en("data"), cell::integer(i64::from(data))),
            (en("bss"), cell::integer(i64::from(bss))),
            (en("heap"), cell::integer(seen as i64)),
        ])
        .build()
}

fn screen(title: &str) -> ScreenBuilder {
    ScreenBuilder::new(en(title))
}

/// Runs forever.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates and touches 1 MiB after 1 MiB, forever.
fn hoard() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        chunk.iter_mut().step_by(4096).for_each(|b| *b = 1);
        chunks.push(black_box(chunk));
    }
}

/// Recurses without end, keeping a frame per level (not a tail call).
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let frame = black_box([depth; 32]);
    recurse(depth + 1).wrapping_add(frame[(depth % 32) as usize])
}

fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

/// Calls the host a million times; a `limit-exceeded` is returned as the screen's error.
fn flood() -> Result<Screen, Error> {
    let mut answered: i64 = 0;
    for _ in 0..FLOOD_CALLS {
        match customers::get(FLOOD_ID) {
            Err(e @ Error::LimitExceeded(_)) => return Err(e),
            _ => answered += 1,
        }
    }
    Ok(screen("flood")
        .key_values([(en("calls answered"), cell::integer(answered))])
        .build())
}

/// Writes `LOG_LINES` lines of 1 KiB to each of `log`, stdout and stderr (write errors ignored,
/// so the screen still comes back when the host drops output).
fn log_flood() -> Screen {
    let line = "x".repeat(1023); // plus the newline: 1 KiB
    for _ in 0..LOG_LINES {
        log::log(log::Level::Info, &line);
        let _ = writeln!(io::stdout(), "{line}");
        let _ = writeln!(io::stderr(), "{line}");
    }
    screen("log-flood")
        .key_values([(en("lines per stream"), cell::integer(LOG_LINES.into()))])
        .build()
}

/// An escape screen: one line per attempt.
fn report(title: &str, attempts: impl IntoIterator<Item = (String, String)>) -> Screen {
    screen(title)
        .key_values(
            attempts
                .into_iter()
                .map(|(what, outcome)| (en(what), cell::text(outcome))),
        )
        .build()
}

fn read(path: &str) -> (String, String) {
    (format!("read {path}"), leak_or_block(std::fs::read(path)))
}

fn list(path: &str) -> (String, String) {
    let names = std::fs::read_dir(path).and_then(|entries| {
        entries
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<_>>>()
    });
    (
        format!("list {path}"),
        leak_or_block(names.map(|n| n.join(",").into_bytes())),
    )
}

fn write(path: &str) -> (String, String) {
    let written = std::fs::write(path, "hostile").map(|()| format!("wrote {path}").into_bytes());
    (format!("write {path}"), leak_or_block(written))
}

/// Makes a symlink (after removing a previous one): making it is no leak, following it would be.
fn plant(target: &str, link: &str) -> (String, String) {
    let _ = std::fs::remove_file(link);
    let made = make_symlink(target, link).map(|()| "created");
    (format!("symlink {link} -> {target}"), outcome(made))
}

/// wasi-libc's `symlink` (`std::os::wasi::fs::symlink_path` is unstable on `wasm32-wasip2`): it
/// resolves `link` against the preopens and calls `wasi:filesystem`'s `symlink-at`.
#[cfg(target_os = "wasi")]
fn make_symlink(target: &str, link: &str) -> io::Result<()> {
    use std::ffi::{CString, c_char, c_int};
    unsafe extern "C" {
        fn symlink(target: *const c_char, link: *const c_char) -> c_int;
    }
    let target = CString::new(target)?;
    let link = CString::new(link)?;
    // SAFETY: two NUL-terminated strings that outlive the call.
    match unsafe { symlink(target.as_ptr(), link.as_ptr()) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(not(target_os = "wasi"))]
fn make_symlink(_target: &str, _link: &str) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// `LEAKED: <first 40 bytes>` when an attempt got through, `blocked: <error kind>` otherwise.
pub fn leak_or_block(result: io::Result<Vec<u8>>) -> String {
    match result {
        Ok(bytes) => format!(
            "LEAKED: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        ),
        Err(e) => blocked(&e),
    }
}

fn outcome(result: io::Result<impl Into<String>>) -> String {
    result.map_or_else(|e| blocked(&e), Into::into)
}

fn blocked(e: &io::Error) -> String {
    format!("blocked: {:?}", e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lists_every_screen_with_only_main_in_the_menu() {
        let m = Hostile::manifest();
        let names: Vec<_> = m.screens.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, SCREENS);
        let in_menu: Vec<_> = m.screens.iter().filter(|s| s.in_menu).collect();
        assert_eq!(in_menu.len(), 1);
        assert_eq!(in_menu[0].name, "main");
        let caps: Vec<_> = m.capabilities.iter().map(|c| c.capability.name()).collect();
        assert_eq!(caps, ["customers", "log", "scratch", "records"]);
    }

    #[test]
    fn attempts_report_leaks_and_blocks() {
        let long = vec![b'a'; 100];
        assert_eq!(
            leak_or_block(Ok(long)),
            format!("LEAKED: {}", "a".repeat(40))
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(leak_or_block(Err(denied)), "blocked: PermissionDenied");
    }
}
