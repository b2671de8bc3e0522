//! WASI for plugins, linked interface by interface, with nothing ambient:
//!
//! - what a language's standard library needs to start and print (`wasi:cli`, `wasi:io`,
//!   `wasi:clocks`, `wasi:random`): stdout and stderr go to the plugin's log, stdin is empty,
//!   there are no environment variables or arguments;
//! - `wasi:filesystem`, always linked, because the runtimes of other languages import it whether
//!   or not the plugin touches a file (componentize-py's CPython does, to start). Without the
//!   `scratch` grant, `preopens.get-directories` answers an empty list whatever the call's context
//!   holds, so the plugin never gets a descriptor and every `types` function stays out of reach;
//!   with the grant, its one preopen is the plugin's scratch directory (`/scratch`);
//! - `wasi:sockets` (every interface), linked because those runtimes import it too, and denying
//!   everything: Wasmtime's implementation under the call's context, which allows no TCP, no UDP
//!   and no name lookup (`Runtime::state`) and whose address check refuses every address, so
//!   creating a socket fails with `access-denied` before the host makes one, and resolving a
//!   name fails.
//!
//! Plugins still have no network and no files outside their scratch directory: these imports
//! are accepted at install so a Python or JavaScript plugin can be instantiated at all.

/// The WASI packages [`add_to_linker`] links (version 0.2, any patch release): every plugin
/// may import them, whatever it was granted.
pub const LINKED: [&str; 6] = [
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasData, Linker, Resource, ResourceTable, ResourceType};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, io, random, sockets};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

use super::CallState;

struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

fn table(s: &mut CallState) -> &mut ResourceTable {
    s.ctx().table
}

/// `wasi:filesystem/preopens` without the `scratch` grant: no directories, ever.
struct NoPreopens;

impl HasData for NoPreopens {
    type Data<'a> = NoPreopens;
}

impl filesystem::preopens::Host for NoPreopens {
    fn get_directories(
        &mut self,
    ) -> wasmtime::Result<Vec<(Resource<filesystem::types::Descriptor>, String)>> {
        Ok(Vec::new())
    }
}

/// Links WASI into a plugin's linker; `scratch` lets `wasi:filesystem` see the call's preopen.
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
    filesystem::types::add_to_linker::<_, WasiFilesystem>(l, CallState::filesystem)?;
    if scratch {
        filesystem::preopens::add_to_linker::<_, WasiFilesystem>(l, CallState::filesystem)?;
    } else {
        filesystem::preopens::add_to_linker::<_, NoPreopens>(l, |_| NoPreopens)?;
    }
    sockets::network::add_to_linker::<_, WasiSockets>(
        l,
        &sockets::network::LinkOptions::default(),
        CallState::sockets,
    )?;
    sockets::instance_network::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sockets::tcp::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sockets::udp::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sockets::udp_create_socket::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    Ok(())
}

/// Defines every import of `component` that [`add_to_linker`] does not link (its
/// `crm:platform` capabilities) as functions that trap: the linker for reading a manifest, with
/// nothing granted.
///
/// Wasmtime's `define_unknown_imports_as_traps` is not used after linking WASI: it compares
/// names exactly, so a component importing `wasi:cli/environment@0.2.9` (componentize-py's
/// runtime does, and calls it on its first export call) got a trap shadowing the `@0.2.12`
/// that `add_to_linker` linked, where the linker's semver match would have found it.
pub fn define_other_imports_as_traps(
    l: &mut Linker<CallState>,
    component: &Component,
) -> wasmtime::Result<()> {
    let engine = l.engine().clone();
    let ty = component.component_type();
    for (name, item) in ty.imports(&engine) {
        if LINKED.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            wasmtime::bail!("the component imports `{name}`, which is not an interface");
        };
        let mut li = l.instance(name)?;
        for (item_name, item) in instance.exports(&engine) {
            match item.ty {
                ComponentItem::ComponentFunc(_) => {
                    let what = format!("{name}#{item_name}");
                    li.func_new(item_name, move |_, _, _, _| {
                        wasmtime::bail!("`{what}` is not linked: nothing is granted yet")
                    })?;
                }
                ComponentItem::Resource(_) => {
                    li.resource(item_name, ResourceType::host::<()>(), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}
