//! ifconfig (filled in by its issue).
/// Entry point of `wgifconfig`; returns the exit status.
pub fn main() -> i32 {
    eprintln!("wgifconfig: not built yet");
    1
}
