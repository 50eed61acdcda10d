#!/usr/bin/env bash
# Prepares, on this (networked, GPU-less) machine, what tools/device/gpu_session.sh needs on a lent GPU
# machine that has no network: .dev/deno.xz, .dev/fmnist/*.xz and .gl/*.deb (all git-ignored, so
# every fresh checkout must rebuild them: ~2 minutes, most of it xz). Then prints the device call.
# Usage: bash tools/device/gpu_prep.sh [--no-data] [--study FILE]   (needs deno on PATH, xz, apt-get;
# Fashion-MNIST is installed with apt-get when missing). `--no-data` leaves Fashion-MNIST out (26
# MiB: with a large committed file the tree may not fit with it); gpu_session.sh then skips its
# data steps (degradation, fulltrain) and runs the rest. `--study FILE` carries a degradation.tar.gz
# an earlier device call returned, so gpu_session.sh continues that study (with its own
# GPU_DEGRADATION_ARGS) instead of starting one; without it no study is carried.
set -euo pipefail
data=1 study=
while [ $# -gt 0 ]; do
  case $1 in
  --no-data) data=0 ;;
  --study)
    study=$(readlink -f "${2:?--study needs a file}")
    shift
    ;;
  *) echo "gpu_prep: unknown argument $1 (usage: gpu_prep.sh [--no-data] [--study FILE])" >&2; exit 2 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
mkdir -p .dev .gl
if [ -n "$study" ]; then
  [ -f "$study" ] || { echo "gpu_prep: --study $study: no such file" >&2; exit 1; }
  # grep reads the whole list: with -q, tar's SIGPIPE would fail the pipe under pipefail.
  tar -tzf "$study" | grep '^degradation/' >/dev/null ||
    { echo "gpu_prep: $study is not a degradation.tar.gz from gpu_session.sh" >&2; exit 1; }
  cp "$study" .dev/degradation.tar.gz
else
  rm -f .dev/degradation.tar.gz
fi

# Deno's binary (~96 MB) travels compressed: the carried tree is capped at 64 MiB.
deno_bin=$(command -v deno) || { echo "gpu_prep: deno is not on PATH" >&2; exit 1; }
# npm's `deno` is a wrapper script; the binary it starts is its platform package's.
if head -c 2 "$deno_bin" | grep -q '#!'; then
  real=$(dirname "$(readlink -f "$deno_bin")")/../@deno/linux-x64-glibc/deno
  [ -x "$real" ] || real=$(find "$(dirname "$(readlink -f "$deno_bin")")/../.." -path '*linux-x64-glibc/deno' -type f | head -n 1)
  deno_bin=$real
fi
[ -x "$deno_bin" ] || { echo "gpu_prep: no deno binary found (tried $deno_bin)" >&2; exit 1; }
# x86 branch filter and a dictionary the size of the binary, one thread (blocks would cost ratio):
# 28.8 MB instead of -6's 30.7, ~2 minutes here once; that headroom carries a study's checkpoints.
xzopts="--x86 --lzma2=preset=9e,dict=128MiB"
if [ ! -s .dev/deno.xz ] || [ "$deno_bin" -nt .dev/deno.xz ] ||
  [ "$(cat .dev/deno.xz.opts 2>/dev/null)" != "$xzopts" ]; then
  echo "compressing $deno_bin (xz $xzopts)"
  # shellcheck disable=SC2086
  xz -T1 $xzopts -c "$deno_bin" >.dev/deno.xz.part && mv .dev/deno.xz.part .dev/deno.xz
  echo "$xzopts" >.dev/deno.xz.opts
fi

# Fashion-MNIST as raw IDX under xz (smaller than the packaged gzip).
if [ "$data" = 1 ]; then
  src=/usr/share/datasets/fashion-mnist
  if [ ! -f "$src/train-images-idx3-ubyte.gz" ]; then
    apt-get install -y dataset-fashion-mnist >/dev/null
  fi
  mkdir -p .dev/fmnist
  for f in "$src"/*-ubyte.gz; do
    out=.dev/fmnist/$(basename "$f" .gz).xz
    if [ ! -s "$out" ]; then gzip -dc "$f" | xz -T2 -6 >"$out.part" && mv "$out.part" "$out"; fi
  done
else
  rm -rf .dev/fmnist
fi

# The Vulkan loader and GL libraries (the device README's recipe): the image has the NVIDIA
# driver's ICD but no libvulkan.so.1.
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null
  # shellcheck disable=SC2086
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
fi

# The whole carried tree (tracked and untracked-unignored files plus .dev and .gl) must fit.
tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -n 1 | cut -f1)
carried=$((tree + $(du -sb .dev .gl | awk '{s += $1} END {print s}')))
mib=$((carried / 1048576))
echo "carried: $mib MiB of 64 (.dev $(du -sh .dev | cut -f1), .gl $(du -sh .gl | cut -f1))"
if [ "$carried" -ge $((64 * 1048576)) ]; then
  echo "gpu_prep: over the device tool's 64 MiB limit; the largest carried files:" >&2
  { git ls-files -co --exclude-standard -z | du -b --files0-from=-; find .dev .gl -type f -print0 |
    du -b --files0-from=-; } | sort -n | tail -n 5 >&2
  [ "$data" = 1 ] && echo "(bash tools/device/gpu_prep.sh --no-data leaves Fashion-MNIST out)" >&2
  exit 1
fi
cat <<'EOF'
device call (run tool): carry [".dev", ".gl"], timeout_s ~470, command:
  GPU_SESSION_BUDGET_S=420 bash tools/device/gpu_session.sh --disposable-tree
(GPU_SESSION_STEPS picks steps; see tools/device/gpu_session.sh.)
EOF
if [ -n "$study" ]; then
  echo "carrying the study in $study: add GPU_SESSION_STEPS=degradation and the study's own"
  echo "GPU_DEGRADATION_ARGS=\"...\" to continue it; the call returns degradation.tar.gz again."
fi
