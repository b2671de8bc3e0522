//! `bench`: the plugin `crm bench` measures. Screens: `noop` (computes `fib(n)` for the `n`
//! param and returns it as the title: the trivial export), `clock` (calls the `clock`
//! capability `calls` times: the host-call round trip), `customer` (reads the customer `id`
//! `calls` times through `customers`).

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{clock, customers};

include!("work.rs");

pub struct Bench;

impl Plugin for Bench {
    fn manifest() -> Manifest {
        ManifestBuilder::new("bench", env!("CARGO_PKG_VERSION"), en("Bench"))
            .description(en("What `crm bench` measures."))
            .capability(Capability::Clock, en("host-call round trips"))
            .capability(Capability::Customers, en("customer read round trips"))
            .screen("noop", en("noop"), false)
            .screen("clock", en("clock"), false)
            .screen("customer", en("customer"), false)
            .build()
    }

    fn render(request: ScreenRequest) -> Result<Screen, Error> {
        let calls = request.params.parse::<u32>("calls")?.unwrap_or(1);
        match request.screen.as_str() {
            "noop" => {
                let n = request.params.parse::<u32>("n")?.unwrap_or(10);
                Ok(screen(fib(n).to_string()).build())
            }
            "clock" => {
                let mut last = 0;
                for _ in 0..calls {
                    last = clock::now();
                }
                Ok(screen(last.to_string()).build())
            }
            "customer" => {
                let id = request.params.required("id")?;
                for _ in 0..calls {
                    customers::get(id)?;
                }
                Ok(screen("ok").build())
            }
            _ => Err(Error::NotFound),
        }
    }
}

crm_plugin_sdk::export_plugin!(Bench);

fn screen(title: impl Into<String>) -> ScreenBuilder {
    ScreenBuilder::new(en(title.into()))
}

#[cfg(test)]
mod tests {
    use super::fib;

    #[test]
    fn fib_is_fibonacci() {
        assert_eq!(
            [fib(0), fib(1), fib(2), fib(10), fib(20)],
            [0, 1, 1, 55, 6765]
        );
    }
}
