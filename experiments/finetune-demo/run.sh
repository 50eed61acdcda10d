#!/usr/bin/env bash
# The fine-tuning demonstration of docs/IMAGES.md: a ResNet-18 pretrained on five Fashion-MNIST
# classes rendered as a photo folder, then fine-tuned (layer4 + fc) on the five other classes from
# 20 images each (ResNet-18 at 64 pixels, batch 16), against the same budget from scratch and with
# fc only. Writes the runs to runs/finetune-demo/ and one JSON line per run to
# experiments/finetune-demo/results/.
#   bash experiments/finetune-demo/run.sh     (14 minutes on 2 otherwise idle cores with lavapipe)
set -euo pipefail
cd "$(dirname "$0")/../.."
export XDG_RUNTIME_DIR=/tmp DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-vulkan}
data=runs/finetune-demo/data
out=runs/finetune-demo
res=experiments/finetune-demo/results
mkdir -p "$res"
if [ ! -d "$data/pretrain" ]; then
  /usr/bin/python3 tools/image_folder_demo.py "$data/pretrain" --train 100 --val 20 --seed 1 \
    --classes 0,1,2,3,4
  /usr/bin/python3 tools/image_folder_demo.py "$data/finetune" --train 20 --val 40 --seed 2 \
    --classes 5,6,7,8,9
fi
train() {
  deno task train --model resnet18 --image-size 64 --batch 16 --eval-batch 50 \
    --grad-norm-every 0 --log-every 5 "$@"
}
train --data "$data/pretrain" --epochs "${PRETRAIN_EPOCHS:-6}" --lr 0.05 --warmup 10 \
  --out "$out/pretrain"
w="$out/pretrain/checkpoint.safetensors"
ft=(--data "$data/finetune" --epochs 5 --lr 0.02 --warmup 0)
train "${ft[@]}" --weights "$w" --train-only layer4,fc --out "$out/layer4-fc"
train "${ft[@]}" --weights "$w" --train-only fc --out "$out/fc"
train "${ft[@]}" --out "$out/scratch"
for r in pretrain layer4-fc fc scratch; do
  jq -c --arg run "$r" '{run: $run, testAccuracy, seconds, steps, imagesPerSec}' \
    "$out/$r/summary.json"
done | tee "$res/$(date -u +%Y-%m-%dT%H%M).jsonl"
