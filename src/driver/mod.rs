//! driver (filled in by its issue).
/// Entry point of `wgd`.
pub fn main() {
    eprintln!("wgd: not built yet");
    std::process::exit(1);
}
