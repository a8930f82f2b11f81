#!/usr/bin/env bash
# Installs what opd's build and tests need, and prints nothing when all of it
# is already there:
#   - Debian packages (apt; as root, or through sudo): the C++ libraries, the
#     compilers and build tools;
#   - .venv/ inside the checkout (pip, from tools/requirements.txt): the CPU
#     torch wheel whose LibTorch opd builds against, and the Hugging Face
#     libraries the reference tests compare with.
# `tools/setup.sh --cuda` also makes .venv-cuda/ with the CUDA torch wheel
# (tools/requirements-cuda.txt), which the compile-only CUDA build links.
# OPD_SETUP_PYTHON names the interpreter that creates the venvs (default:
# python3 on PATH; it must be Python 3.11, the wheels' version).
set -euo pipefail
cd "$(dirname "$0")/.."

cuda=0
for arg in "$@"; do
  case $arg in
    --cuda) cuda=1 ;;
    *) echo "setup: unknown argument '$arg' (allowed: --cuda)" >&2; exit 2 ;;
  esac
done

packages=(
  g++ cmake ninja-build ccache pkg-config git
  python3 python3-venv
  libgloo-dev                              # Gloo's headers only: the wheel's c10d headers include them (README)
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev libhdf5-dev
  libpcre2-dev libutf8proc-dev             # tokenizer.json: split regexes with Unicode classes; NFC/NFKC
  clang-14 libclang-rt-14-dev              # tools/fuzz.sh: libFuzzer and the sanitizer runtimes
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# make_venv DIR REQUIREMENTS: DIR holds exactly REQUIREMENTS once this returns.
# A copy of the installed file inside DIR says it is done; a venv whose
# install was interrupted has none and is made again.
make_venv() {
  local dir=$1 requirements=$2 python=${OPD_SETUP_PYTHON:-python3}
  cmp -s "$requirements" "$dir/opd-requirements.txt" && return 0
  "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
    echo "setup: $python is Python $("$python" -c 'import platform; print(platform.python_version())'); the pinned wheels need 3.11 (set OPD_SETUP_PYTHON)" >&2
    exit 1
  }
  echo "setup: installing $requirements into $dir"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --no-warn-script-location \
    -r "$requirements"
  cp "$requirements" "$dir/opd-requirements.txt"
}

make_venv .venv tools/requirements.txt
if [[ $cuda -eq 1 ]]; then make_venv .venv-cuda tools/requirements-cuda.txt; fi
