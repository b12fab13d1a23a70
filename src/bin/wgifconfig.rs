fn main() {
    std::process::exit(wgif::ifconfig::main())
}
