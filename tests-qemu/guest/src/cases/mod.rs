//! goro's behaviour cases, run by `/init` inside the VM.

pub mod core;
pub mod net;
pub mod process;

use crate::report::Outcome;

/// A named case.
pub type Case = (&'static str, fn() -> Outcome);

/// Every case, in the order `/init` runs them.
pub const ALL: &[Case] = &[
    ("mem_functions", core::mem_functions),
    ("spawn_join", core::spawn_join),
    ("sleep_and_timers", core::sleep_and_timers),
    ("parallel_procs", core::parallel_procs),
    ("tcp_echo", net::tcp_echo),
    ("udp", net::udp),
    ("unix", net::unix),
    ("deadlines", net::deadlines),
    ("close_while_parked", net::close_while_parked),
    ("emfile", net::emfile),
    ("addresses", net::addresses),
    ("stack_overflow", process::stack_overflow),
    ("broken_pipe", process::broken_pipe),
    ("echo_image", process::echo_image),
];
