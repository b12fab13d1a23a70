fn main() {
    wgif::driver::main()
}
