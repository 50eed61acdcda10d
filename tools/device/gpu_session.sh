#!/usr/bin/env bash
# One prepared session on a lent GPU machine (the device tool; see docs/journal/bench-history.md, "On a real
# GPU"). Device time is scarce, so every step has a time limit and the long steps size
# themselves from the throughput measured by the earlier ones, to end inside GPU_SESSION_BUDGET_S.
#
# Prepared here by tools/device/gpu_prep.sh, carried as .dev and .gl (both git-ignored; no network there,
# and none needed: nothing these steps import is remote):
#   .dev/deno.xz       the deno binary under xz (the whole tree that travels is capped at 64 MiB)
#   .dev/fmnist/*.xz   Fashion-MNIST IDX files, xz instead of gzip to fit the cap
#   .gl/*.deb          the Vulkan loader (device README's recipe)
# Usage there: bash tools/device/gpu_session.sh --disposable-tree
# Writes under $OUT: session.log, adapter.json, kernels.json, train.json, torch.json,
# winograd.json, infer.json, degradation.tar.gz (the study's directory, checkpoints included), all.tar.gz
# (runs: test log, the cpu-policy baseline, train_tiled.json, train_unfused_join.json, the
# training run directory without its checkpoint).
set -u
BUDGET=${GPU_SESSION_BUDGET_S:-500}
S=${GPU_SESSION_STEP_PERCENT:-100} # < 100 only to rehearse the script on a slow adapter
lim() { echo $(($1 * S / 100)); }
OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
exec > >(tee "$OUT/session.log") 2>&1
left() { echo $((BUDGET - SECONDS)); }
step() { echo "== [$SECONDS s] $*"; }
# GPU_SESSION_STEPS picks steps (comma-separated; default all): tests, train, tuned, baseline,
# torch, kernels, winograd, tiled, join, infer, degradation, fulltrain. E.g. a session that only needs a long degradation
# study: GPU_SESSION_STEPS=degradation. GPU_DEGRADATION_ARGS replaces the planned study budget,
# e.g. the residual nets at the budget the PyTorch replica points to (README, "The degradation
# experiment"): GPU_DEGRADATION_ARGS="--depths 20,56 --nets resnet --epochs 14". A study longer
# than one call stops cleanly when the time is up and comes back as degradation.tar.gz; the next
# call continues it after `bash tools/device/gpu_prep.sh --study degradation.tar.gz`, with the same
# GPU_DEGRADATION_ARGS.
STEPS=",${GPU_SESSION_STEPS:-tests,train,tiled,tuned,baseline,join,torch,kernels,winograd,infer,degradation,fulltrain},"
want() { [[ "$STEPS" == *",$1,"* ]]; }

step setup
# Deno fetches deno.json's npm imports (esbuild, @webgpu/types: build and typing only) before
# running anything, and the machine has no registry: drop them from this disposable copy.
if [ "${1:-}" = --disposable-tree ]; then
  python3 -c "import json; d = json.load(open('deno.json')); d.pop('imports', None)
json.dump(d, open('deno.json', 'w'), indent=2)" && rm -f deno.lock
fi
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
mkdir -p /tmp/bin /tmp/fmnist "$OUT/runs"
xz -dc .dev/deno.xz >/tmp/bin/deno && chmod +x /tmp/bin/deno
# tools/device/gpu_prep.sh --no-data leaves Fashion-MNIST out: then the steps that train on it are skipped.
data=0
for f in .dev/fmnist/*.xz; do
  [ -f "$f" ] && xz -dc "$f" >"/tmp/fmnist/$(basename "$f" .xz)" && data=1
done
[ "$data" = 1 ] || echo "no .dev/fmnist: degradation and fulltrain are skipped"
export PATH=/tmp/bin:$PATH DENO_DIR=/tmp/deno-dir XDG_RUNTIME_DIR=/tmp
export DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-vulkan} NO_COLOR=1
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
nvidia-smi -L 2>/dev/null
deno eval 'import { Runtime } from "./src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "./src/host/deno_env.ts";
const rt = await Runtime.create(runtimeOptionsFromEnv());
console.log(JSON.stringify({ ...rt.report, policy: rt.policy })); rt.dispose();' |
  tee "$OUT/adapter.json"

if want tests; then
  step "kernel, runtime and whole-model golden tests on this adapter"
  timeout "$(lim 60)" deno test --allow-read --allow-write --allow-env --allow-run tests/gpu/ tests/ops/ \
    tests/e2e/model_golden.test.ts 2>&1 | tee "$OUT/runs/test_gpu.log" | grep -E "FAILED|passed|failed" | tail -n 20
fi

if want train; then
  step "bench:train (the adapter's kernel policy)"
  timeout "$(lim 45)" deno task bench:train --json >"$OUT/train.json"
  cat "$OUT/train.json"
fi
if want tiled; then
  # The workgroup-tiled convolutions (src/ops/conv2d/tiled.ts), unmeasured on a GPU when written:
  # against train.json's default (direct) kernels, same models, same call.
  step "bench:train --tiled (workgroup-memory implicit-GEMM convolutions)"
  timeout "$(lim 45)" deno task bench:train --tiled --json >"$OUT/runs/train_tiled.json"
  cat "$OUT/runs/train_tiled.json"
  # Tiled over default kernels per model (training and forward images/s), when both ran.
  python3 -c '
import json, sys
runs = [{(r["model"], r["batch"]): r for r in json.load(open(f))["results"]} for f in sys.argv[1:]]
for key, t in runs[1].items():
    d = runs[0].get(key)
    if d:
        tr = t["trainImagesPerSec"] / d["trainImagesPerSec"]
        fw = t["forwardImagesPerSec"] / d["forwardImagesPerSec"]
        print(f"tiled/default {key[0]}:{key[1]}: train {tr:.2f}x, forward {fw:.2f}x")
' "$OUT/train.json" "$OUT/runs/train_tiled.json" 2>/dev/null
fi
if want tuned; then
  step "bench:train --tune (autotuned conv variants)"
  timeout "$(lim 50)" deno task bench:train --tune --only resnet20:128,resnet50:16 --json \
    >"$OUT/runs/train_tuned.json"
  cat "$OUT/runs/train_tuned.json"
fi
if want baseline; then
  step "bench:train with the software adapters' kernel policy (the same-run baseline)"
  RESGPU_KERNELS=cpu timeout "$(lim 20)" deno task bench:train --only resnet20:128 --json \
    >"$OUT/runs/train_cpu_policy.json"
  cat "$OUT/runs/train_cpu_policy.json"
fi
if want join; then
  # Batch norms run the residual join they feed (fewer bytes; neutral on lavapipe, whose BN
  # kernels are bound by per-lane channel work): against train.json's default, fused, same call.
  step "bench:train --fuse-join 0 (batch norm and residual join as separate passes)"
  timeout "$(lim 20)" deno task bench:train --fuse-join 0 --only resnet20:128,resnet50:16 --json \
    >"$OUT/runs/train_unfused_join.json"
  cat "$OUT/runs/train_unfused_join.json"
fi
if want torch; then
  step "PyTorch fp32 on the same models"
  timeout "$(lim 40)" python3 bench/torch_models.py --device cuda --windows 3 --steps 10 \
    >"$OUT/torch.json"
  cat "$OUT/torch.json"
fi
if want kernels; then
  step "bench:kernels (convolutions)"
  timeout "$(lim 45)" deno task bench:kernels --filter conv2d --json >"$OUT/kernels.json"
fi
if want winograd; then
  # The GPU policy keeps the direct kernels for 3×3 stride-1 convolutions until this is measured:
  # Winograd F(2,3)/F(4,3) against them per layer, then a training step with F(4,3) forced (and
  # its input transforms kept for the filter gradients, as the software policy runs it).
  step "Winograd vs direct convolutions (experiments/probes/winograd.ts), then bench:train --winograd 4"
  timeout "$(lim 40)" deno run --allow-read --allow-env experiments/probes/winograd.ts --rounds 3 --json \
    >"$OUT/winograd.json"
  cat "$OUT/winograd.json"
  timeout "$(lim 30)" deno task bench:train --winograd 4 --winograd-keep 1 \
    --only resnet20:128,resnet50:16 --json >"$OUT/runs/train_winograd4.json"
  cat "$OUT/runs/train_winograd4.json"
fi

if want infer; then
  # Inference (issue #27 target 3): ResNet-50 batch-1 latency and batch-32 throughput against
  # PyTorch on this GPU (CUDA fp32, TF32 off) in one run; TensorFlow.js needs npm, absent here.
  step "inference: bench:infer --engines resgpu,torch --device cuda"
  timeout "$(lim 60)" deno run --allow-read --allow-write --allow-env --allow-run bench/infer.ts \
    --engines resgpu,torch --device cuda --models resnet50,resnet18 --batch 32 --rounds 3 --json \
    >"$OUT/infer.json"
fi

# Seconds per training image at batch 128 for ResNet-20 and -56, from bench:train.
read -r T20 T56 < <(python3 -c '
import json, sys
r = {(x["model"], x["batch"]): x["trainImagesPerSec"] for x in json.load(open(sys.argv[1]))["results"]}
print(1 / r[("resnet20", 128)], 1 / r[("resnet56", 128)])' "$OUT/train.json" 2>/dev/null) ||
  { T20=0.000114; T56=0.000303; } # no bench:train in this call: the H100's 8,800 and 3,300 img/s

# The degradation study (issue #7) at the largest budget that fits: depths 20/32/56 when two
# epochs of all of Fashion-MNIST fit, else 20/56; the epochs cover as many images as time allows.
# The training job's full run (issue #5) comes after it only if time is left: the 2-core machine
# measures that one itself. The plan keeps 20% in hand: real runs also load data and read metrics.
RESERVE=40
DEG=$(($(left) - RESERVE))
plan=$(python3 -c '
import math, sys
t20, t56, secs = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
t = lambda d: t20 + (t56 - t20) * (d - 20) / 36
for depths in ((20, 32, 56), (20, 56)):
    fixed = 8 * 2 * len(depths)  # plan, compile and evaluation per run
    images = 0.8 * (secs - fixed) / (2 * sum(t(d) for d in depths))
    if images >= 120000 or len(depths) == 2:
        break
epochs = max(1, math.ceil(images / 60000))
subset = max(1280, min(60000, int(images / epochs)))
print(",".join(map(str, depths)), f"--epochs {epochs} --subset {subset}")
' "$T20" "$T56" "$DEG")
read -r DEPTHS DEGARGS <<<"$plan"
DEGARGS="--depths $DEPTHS $DEGARGS"
[ -n "${GPU_DEGRADATION_ARGS:-}" ] && DEGARGS=$GPU_DEGRADATION_ARGS
# A study longer than a session continues the one an earlier session returned (degradation.tar.gz,
# carried as .dev/degradation.tar.gz by `bash tools/device/gpu_prep.sh --study FILE`), with that study's
# own GPU_DEGRADATION_ARGS (the study refuses other settings, naming them).
resume=
if want degradation && [ -f .dev/degradation.tar.gz ]; then
  if [ -n "${GPU_DEGRADATION_ARGS:-}" ]; then
    tar -C "$OUT/runs" -xzf .dev/degradation.tar.gz && resume=--resume
  else
    step "degradation skipped: the carried study needs its own GPU_DEGRADATION_ARGS"
    resume=missing-args
  fi
fi
if [ "$resume" = missing-args ]; then
  :
elif want degradation && [ "$data" = 1 ] && [ "$DEG" -ge 90 ]; then
  step "degradation: $DEGARGS $resume (about $DEG s)"
  # SIGINT when time runs out, not TERM: the study checkpoints the net in training and stops, and
  # degradation.tar.gz (checkpoints included) lets the next session continue it. `deno run`, not
  # `deno task`, so the signal reaches the study itself.
  # shellcheck disable=SC2086
  timeout -s INT -k 30 "$(($(left) - 45))" deno run --allow-read --allow-write --allow-env \
    src/cli/degradation.ts --data /tmp/fmnist $DEGARGS $resume --out "$OUT/runs/degradation" 2>&1 |
    tail -n 40
  # A finished net's checkpoint is not needed to continue (its summary is): left out, so the
  # unfinished net's checkpoint fits under the 64 MiB carry next time.
  skip=()
  for s in "$OUT"/runs/degradation/*/summary.json; do
    grep -q '"stopped": *"finished"' "$s" 2>/dev/null &&
      skip+=("--exclude=degradation/$(basename "$(dirname "$s")")/checkpoint.safetensors")
  done
  tar -C "$OUT/runs" "${skip[@]}" -czf "$OUT/degradation.tar.gz" degradation &&
    rm -rf "$OUT/runs/degradation"
  ls -l "$OUT/degradation.tar.gz"
elif want degradation && [ "$data" = 1 ]; then
  step "degradation skipped: $DEG s is too little"
fi

# The training job's documented run (issue #5): ResNet-20, all of Fashion-MNIST, defaults.
need=$(python3 -c "print(int(180000 * $T20 + 30))")
if want fulltrain && [ "$data" = 0 ]; then
  step "train skipped: no Fashion-MNIST carried"
elif want fulltrain && [ "$(left)" -gt $((need + RESERVE)) ]; then
  step "train: resnet20, all of Fashion-MNIST, default settings (about $need s)"
  # `deno run`: the train task may read only /usr/share/datasets and runs/.
  timeout $(($(left) - 20)) deno run --allow-read --allow-write --allow-env src/cli/train.ts \
    --data /tmp/fmnist --out "$OUT/runs/train" 2>&1 |
    tail -n 30
elif want fulltrain; then
  step "train skipped: needs about $need s, $(left) s left"
fi

step "packing"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv 2>/dev/null
tar -C "$OUT" --exclude="*.safetensors" -czf "$OUT/all.tar.gz" runs && rm -rf "$OUT/runs"
step done
