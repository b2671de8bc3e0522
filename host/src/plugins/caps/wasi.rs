//! WASI for plugins, linked interface by interface: what Rust's standard library needs (stdio,
//! clocks, randomness, exit) with nothing ambient, `wasi:filesystem` only with the `scratch`
//! grant (its one preopen is the plugin's scratch directory), and never `wasi:sockets`.

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, io, random};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

use crate::plugins::runtime::CallState;

struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

fn table(s: &mut CallState) -> &mut ResourceTable {
    s.ctx().table
}

/// Links WASI into a plugin's linker; `scratch` adds `wasi:filesystem`.
pub fn add_to_linker(l: &mut Linker<CallState>, scratch: bool) -> wasmtime::Result<()> {
    io::error::add_to_linker::<_, Io>(l, table)?;
    io::poll::add_to_linker::<_, Io>(l, table)?;
    io::streams::add_to_linker::<_, Io>(l, table)?;
    clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, CallState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, CallState::clocks)?;
    random::random::add_to_linker::<_, WasiRandom>(l, CallState::random)?;
    random::insecure::add_to_linker::<_, WasiRandom>(l, CallState::random)?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, CallState::random)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    if scratch {
        filesystem::types::add_to_linker::<_, WasiFilesystem>(l, CallState::filesystem)?;
        filesystem::preopens::add_to_linker::<_, WasiFilesystem>(l, CallState::filesystem)?;
    }
    Ok(())
}
