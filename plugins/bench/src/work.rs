// The trivial work `crm bench` times: compiled into the plugin, and into the host as the
// direct-call baseline (`include!`), so both sides run the same Rust function.

/// The `n`-th Fibonacci number, iteratively (wrapping).
pub fn fib(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        let next = a.wrapping_add(b);
        a = b;
        b = next;
    }
    a
}
