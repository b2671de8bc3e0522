//! Capability `scratch`: a directory of the plugin's own, the one preopen of `wasi:filesystem`
//! (linked by [`super::wasi`], which answers no preopens without this grant).

use std::path::PathBuf;

use wasmtime::component::Linker;

use super::CallState;
use super::Setup;

/// The directory the call's WASI context opens as `/scratch`.
pub struct State {
    pub dir: PathBuf,
}

pub fn configure(setup: &Setup<'_>) -> anyhow::Result<State> {
    std::fs::create_dir_all(setup.scratch)?;
    Ok(State {
        dir: setup.scratch.to_path_buf(),
    })
}

/// Nothing of its own to link: `wasi:filesystem` is linked for every plugin.
pub fn link(_: &mut Linker<CallState>) -> wasmtime::Result<()> {
    Ok(())
}
