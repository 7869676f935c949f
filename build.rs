//! Links this crate's native binaries and tests without DWARF debug info. The dev
//! profile (tests, native benchmarks) keeps debug info in every crate, and Burn's
//! dependency tree made each test binary ~1.7 GB, six of them per build; backtraces and
//! `perf` keep function names (the symbol table stays), only file and line are lost.
//! Set `REGNET_KEEP_DEBUG=1` to link them in full (line-level profiles).

fn main() {
    println!("cargo::rerun-if-env-changed=REGNET_KEEP_DEBUG");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && std::env::var_os("REGNET_KEEP_DEBUG").is_none() {
        println!("cargo::rustc-link-arg=-Wl,--strip-debug");
    }
}
