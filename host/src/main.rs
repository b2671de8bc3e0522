//! The `crm` binary: the command line, the demo and the benchmark, on top of the `crm` library
//! (the product: server, use cases and the layers below them).

mod bench;
mod cli;
mod demo;

fn main() -> std::process::ExitCode {
    cli::main()
}
