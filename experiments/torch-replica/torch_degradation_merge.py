"""Merges experiments/torch-replica/torch_degradation.py runs made by separate invocations into one study directory.

A long replica run does not fit one session here, and two nets train faster side by side (one
thread each) than one after the other, so one study can come from several invocations, each
finishing some nets. Each net is seeded on its own, so which invocation trained it does not change
it. This writes <out>/results.json (the runs in depth order, plain before residual; the shared
training settings with the union of depths and nets; and which directory each net came from),
copies each net's <net>.jsonl and concatenates the sources' log.txt. It refuses sources whose
training settings differ (anything but depths and nets), a net finished in two sources, and a
source whose results.json is missing (its invocation has not finished: resume it first).

    /usr/bin/python3 experiments/torch-replica/torch_degradation_merge.py --out DIR SRC [SRC ...] [--note TEXT]
"""
import argparse
import json
import os
import shutil
import sys

from torch_degradation_results import load_results, shared_settings

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--note", default=None, help="extra text for results.json (how the runs were made)")
ap.add_argument("sources", nargs="+")
args = ap.parse_args()

PER_INVOCATION = ("depths", "nets")


def fail(msg):
    sys.exit(f"torch_degradation_merge: {msg}")


results = [(src, load_results(src, fail)) for src in args.sources]
first_src, first = results[0]
shared = shared_settings(results, PER_INVOCATION, fail)
runs, origin = [], {}
for src, r in results:
    if r["torch"] != first["torch"]:
        fail(f"{src} ran torch {r['torch']}, {first_src} torch {first['torch']}")
    for run in r["runs"]:
        if run["net"] in origin:
            fail(f"{run['net']} is in both {origin[run['net']]} and {src}")
        origin[run["net"]] = src
        runs.append((run, r["config"]))
runs.sort(key=lambda rc: (rc[0]["depth"], rc[0]["residual"]))
configs = {run["net"]: c for run, c in runs}
runs = [run for run, _ in runs]

os.makedirs(args.out, exist_ok=True)
for run in runs:
    shutil.copy(os.path.join(origin[run["net"]], f"{run['net']}.jsonl"),
                os.path.join(args.out, f"{run['net']}.jsonl"))
config = dict(shared)
config["depths"] = ",".join(str(d) for d in sorted({run["depth"] for run in runs}))
config["nets"] = ",".join(k for k in ("plain", "resnet")
                          if any(run["residual"] == (k == "resnet") for run in runs))
out = {
    "config": config,
    "torch": first["torch"],
    "invocations": {run["net"]: {"source": origin[run["net"]], "config": configs[run["net"]]}
                    for run in runs},
    **({"note": args.note} if args.note else {}),
    "runs": runs,
}
with open(os.path.join(args.out, "results.json"), "w") as f:
    json.dump(out, f, indent=1)
with open(os.path.join(args.out, "log.txt"), "w") as f:
    for src in args.sources:
        log = os.path.join(src, "log.txt")
        if os.path.exists(log):
            f.write(f"==> {log}\n")
            with open(log) as g:
                f.write(g.read())
print(f"{args.out}: " + ", ".join(f"{run['net']} from {origin[run['net']]}" for run in runs))
