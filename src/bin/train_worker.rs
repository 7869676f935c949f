//! The training Web Worker that Trunk builds for wasm32 (see index.html,
//! `data-type="worker"`); the page starts it from `train_worker_loader.js`.

fn main() {
    #[cfg(target_arch = "wasm32")]
    regnet_playground::worker::run();
}
