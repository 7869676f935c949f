# Shared, idempotent set-up for scripts/serve, scripts/test and scripts/bench.
# Each step checks before it installs, so a second run costs seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Trunk must use the pinned tools on PATH, never download its own.
export TRUNK_OFFLINE=true
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || { say "adding the wasm32 target"; rustup target add wasm32-unknown-unknown; }
}

# cargo install VERSIONED_CRATE BINARY VERSION: plain first (the crates mirror can
# lag behind a lock file), --locked when a newer dependency breaks the build.
ensure_cargo_tool() {
  local crate=$1 bin=$2 version=$3
  if "$bin" --version 2>/dev/null | grep -q "$version"; then return; fi
  say "installing $crate $version (a one-time build of several minutes)"
  cargo install "$crate@$version" --locked || cargo install "$crate@$version"
}

ensure_node_tools() {
  if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ]; then
    say "installing node tools (binaryen's wasm-opt, playwright-core)"
    npm ci --no-audit --no-fund
  fi
}

ensure_build_tools() {
  ensure_wasm_target
  ensure_cargo_tool trunk trunk "$TRUNK_VERSION"
  ensure_cargo_tool wasm-bindgen-cli wasm-bindgen "$WASM_BINDGEN_VERSION"
  ensure_node_tools
}

# Chromium for the browser tests; Mesa's Vulkan drivers so Burn's wgpu backend finds
# the lavapipe CPU adapter on machines without a GPU.
ensure_test_packages() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
    || ! ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
    say "installing Debian's chromium, chromium-driver and mesa-vulkan-drivers"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver mesa-vulkan-drivers
  fi
}

# The release build of the app into dist/.
build_app() {
  say "building the app (trunk build --release)"
  trunk build --release
}
