//! The clocks the data path reads: monotonic time for the engine, wall time for
//! TAI64N timestamps and the last handshake. The daemon uses the system's; the tests
//! a simulated one (driver/twin.rs).

use std::time::{Instant, SystemTime};

/// Monotonic time for the engine, wall time for TAI64N and last-handshake.
pub trait Clock {
    fn now(&self) -> Instant;
    fn wall(&self) -> SystemTime;
}

/// The system's clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}
