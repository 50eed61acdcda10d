#!/usr/bin/env python3
"""resgpu <-> PyTorch: weights and training checkpoints in both directions.

resgpu stores a model as safetensors under torchvision's state_dict names, so torchvision loads
its files with load_state_dict(strict=True). This tool needs only torch (and torchvision for class
names); it reads and writes safetensors itself, so no `safetensors` package is required.

Commands:
  convert PTH OUT.safetensors [--dtype f32|f16|bf16] [--imagenet] [--class-names FILE]
          [--input-size C,H,W] [--mean M,M,M --std S,S,S]
      A PyTorch state dict (.pth/.pt; a bare state dict or one under "state_dict"/"model", DDP's
      "module." prefixes removed) to a weights file loadWeights reads. --imagenet stores
      torchvision's ImageNet normalization and, when the head has 1000 classes, the ImageNet
      class names torchvision carries (its weights' metadata); --class-names FILE reads one name
      per line instead.
  to-torch CHECKPOINT.safetensors OUT.pt
      A resgpu training checkpoint to a torch.save file: {"model": state_dict,
      "optimizer_slots": {"<param>.momentum_buffer": tensor}, "config": the run's settings,
      "resgpu": the checkpoint's metadata}. sgd_state_dict() turns the slots into
      torch.optim.SGD's state_dict for a given model.
  from-torch IN.pt OUT.safetensors
      Back: a file of that shape (the model and slots updated by PyTorch, "resgpu" metadata with
      the new epoch/step) to a resgpu checkpoint that loadCheckpoint and `--resume` take.

As a module (the way to continue a run under torchrun/DDP and come back; docs/INFERENCE.md):
read_safetensors, write_safetensors, checkpoint_to_torch, torch_to_checkpoint, sgd_state_dict.
"""
import argparse
import json
import os
import struct
import sys

import torch

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}
CHECKPOINT_FORMAT = "resgpu-checkpoint-1"
WEIGHTS_FORMAT = "resgpu-weights-1"
OPTIMIZER = "optimizer."
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def read_safetensors(path):
    """{name: tensor}, metadata — tensors copied out of the file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        buf = bytearray(data[base + start:base + end])
        dtype = DTYPES[t["dtype"]]
        tensor = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        out[name] = tensor.reshape(t["shape"]).clone()
    return out, header.get("__metadata__", {})


def _raw(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} with string metadata; largest item size first, then by name."""
    order = sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in order:
        raw = _raw(t)
        header[name] = {
            "dtype": NAMES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        offset += len(raw)
        blobs.append(raw)
    js = json.dumps(header).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def load_state_dict_file(path):
    """A state dict from a .pth/.pt file: bare, or under "state_dict"/"model"; "module." removed."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch before 1.13 has no weights_only
        obj = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def imagenet_class_names():
    """The 1000 ImageNet class names torchvision carries in its weights' metadata."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def preprocessing(state, input_size, mean, std, class_names):
    classes = head_classes(state)
    p = {"mean": mean, "std": std, "inputShape": input_size, "classes": classes}
    if class_names is not None:
        if len(class_names) != classes:
            raise ValueError(f"{len(class_names)} class names for a {classes}-class head")
        p["classNames"] = class_names
    return json.dumps(p)


def head_classes(state):
    """Classes of the last linear layer (the 2-D weight named last in the state dict)."""
    linear = [v for k, v in state.items() if k.endswith(".weight") and v.dim() == 2]
    if not linear:
        raise ValueError("no linear layer in the state dict: cannot tell the class count")
    return int(linear[-1].shape[0])


def convert(args):
    state = load_state_dict_file(args.pth)
    dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
    mean = [float(v) for v in args.mean.split(",")] if args.mean else None
    std = [float(v) for v in args.std.split(",")] if args.std else None
    names = None
    if args.imagenet:
        mean, std = mean or IMAGENET_MEAN, std or IMAGENET_STD
        if head_classes(state) == 1000:
            names = imagenet_class_names()
    if args.class_names:
        with open(args.class_names, encoding="utf-8") as f:
            names = [line.rstrip("\n") for line in f if line.strip()]
    meta = {"format": WEIGHTS_FORMAT, "model": args.model or "",
            "source": os.path.basename(args.pth)}
    if mean is not None or std is not None:
        if mean is None or std is None:
            raise ValueError("--mean and --std go together")
        size = [int(v) for v in args.input_size.split(",")]
        meta["preprocessing"] = preprocessing(state, size, mean, std, names)
    elif names is not None:
        raise ValueError("class names are stored with a normalization: give --imagenet or --mean/--std")
    write_safetensors(args.out, tensors, meta)
    print(f"{args.out}: {len(tensors)} tensors ({args.dtype})"
          + (f", {len(names)} class names" if names else ""))


def checkpoint_to_torch(path, model=None):
    """A resgpu checkpoint as (state_dict, SGD-style optimizer state by parameter name, metadata).

    With `model` (a torch.nn.Module of the same architecture), the optimizer state comes back as
    a torch.optim.SGD state_dict for model.parameters() order."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a resgpu checkpoint (format {meta.get('format')})")
    state = {k: v for k, v in tensors.items() if not k.startswith(OPTIMIZER)}
    slots = {k[len(OPTIMIZER):]: v for k, v in tensors.items() if k.startswith(OPTIMIZER)}
    if model is None:
        return state, slots, meta
    return state, sgd_state_dict(model, state, slots, json.loads(meta.get("config", "{}"))), meta


def sgd_state_dict(model, state, slots, config):
    """torch.optim.SGD's state_dict for `model` from resgpu's `<param>.momentum_buffer` slots."""
    names = [n for n, _ in model.named_parameters()]
    buffers = {}
    for i, (name, p) in enumerate(model.named_parameters()):
        key = f"{name}.momentum_buffer"
        if key in slots:
            buffers[i] = {"momentum_buffer": slots[key].reshape(p.shape).clone()}
    extra = [k for k in slots if k.rsplit(".", 1)[0] not in names]
    if extra:
        raise ValueError(f"optimizer state for parameters the model lacks: {extra[:3]}")
    group = {
        "lr": config.get("lr", 0.1),
        "momentum": config.get("momentum", 0.9),
        "dampening": 0,
        "weight_decay": config.get("wd", 0.0),
        "nesterov": bool(config.get("nesterov", False)),
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "params": list(range(len(names))),
    }
    return {"state": buffers, "param_groups": [group]}


def torch_to_checkpoint(path, model, optimizer, meta):
    """Writes `model` and `optimizer` (torch.optim.SGD) as a resgpu checkpoint with `meta`
    (format, model, epoch, step, loader, config — as checkpoint_to_torch returned them)."""
    tensors = {k: v.detach().float() if v.is_floating_point() else v
               for k, v in model.state_dict().items()}
    for name, p in model.named_parameters():
        buf = optimizer.state.get(p, {}).get("momentum_buffer")
        tensors[f"{OPTIMIZER}{name}.momentum_buffer"] = (
            buf.detach().float().reshape(-1) if buf is not None else torch.zeros(p.numel()))
    out = dict(meta)
    out["format"] = CHECKPOINT_FORMAT
    write_safetensors(path, tensors, out)


def to_torch(args):
    state, slots, meta = checkpoint_to_torch(args.checkpoint)
    config = json.loads(meta.get("config", "{}"))
    torch.save({"model": state, "optimizer_slots": slots, "config": config, "resgpu": meta},
               args.out)
    print(f"{args.out}: {len(state)} tensors, {len(slots)} optimizer slots, step {meta.get('step')}")


def from_torch(args):
    obj = torch.load(args.pt, map_location="cpu")
    state, meta = obj["model"], dict(obj["resgpu"])
    slots = obj.get("optimizer_slots", {})
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    for k, v in slots.items():
        tensors[OPTIMIZER + k] = v.float().reshape(-1)
    meta["format"] = CHECKPOINT_FORMAT
    write_safetensors(args.out, tensors, meta)
    print(f"{args.out}: {len(tensors)} tensors, step {meta.get('step')}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="a PyTorch state dict to a resgpu weights file")
    c.add_argument("pth")
    c.add_argument("out")
    c.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32")
    c.add_argument("--model", help="the resgpu model name to record (e.g. resnet50)")
    c.add_argument("--imagenet", action="store_true",
                   help="store ImageNet normalization (and class names for a 1000-class head)")
    c.add_argument("--class-names", help="a text file with one class name per line")
    c.add_argument("--input-size", default="3,224,224")
    c.add_argument("--mean")
    c.add_argument("--std")
    c.set_defaults(run=convert)
    t = sub.add_parser("to-torch", help="a resgpu checkpoint to a torch.save file")
    t.add_argument("checkpoint")
    t.add_argument("out")
    t.set_defaults(run=to_torch)
    f = sub.add_parser("from-torch", help="a to-torch file (trained on) back to a resgpu checkpoint")
    f.add_argument("pt")
    f.add_argument("out")
    f.set_defaults(run=from_torch)
    args = ap.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
