//! The training Web Worker, built for wasm32 by `scripts/build` as a classic worker
//! script (scripts/package-site.mjs); the page starts it from `train_worker_loader.js`.

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    /// The linker's constructor list (CubeCL's compiler registers its passes through
    /// `inventory`, which runs as constructors).
    fn __wasm_call_ctors();
}

fn main() {
    // A binary that never calls the constructors itself is linked "command-style": the
    // linker then runs all of them at the top of every exported function, so every
    // call from JavaScript into the worker (each callback, each resolved promise) would
    // re-run them. Calling them once here, first, opts out of that.
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: runs once, before any other Rust code in this instance (wasm-bindgen's
        // start function calls `main` right after instantiation).
        unsafe { __wasm_call_ctors() };
        regnet_playground::worker::run();
    }
}
