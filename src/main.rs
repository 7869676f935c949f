//! Entry point of the web app, built for wasm32 by `scripts/build` (see index.html).

#[cfg(target_arch = "wasm32")]
fn main() {
    regnet_playground::app::mount();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "The playground is a web app: build and serve it with `scripts/serve` (see README.md)."
    );
    std::process::exit(2);
}
