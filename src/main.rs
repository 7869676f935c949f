//! Entry point of the web app, built for wasm32 by `scripts/build` (see index.html).

#[cfg(all(target_arch = "wasm32", not(feature = "training")))]
fn main() {
    regnet_playground::app::mount();
}

// Natively, or built with Burn (the page is built without it: `--no-default-features`).
#[cfg(not(all(target_arch = "wasm32", not(feature = "training"))))]
fn main() {
    eprintln!(
        "The playground is a web app: build and serve it with `scripts/serve` (see README.md)."
    );
    std::process::exit(2);
}
