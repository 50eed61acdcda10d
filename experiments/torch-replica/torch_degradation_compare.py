"""Compares ResNet-20 and ResNet-56 window training errors of a experiments/torch-replica/torch_degradation.py run,
over the same iterations at the end of each learning-rate phase both reached (lr x0.1 at 50% and
75% of the run's iterations, from ResNet-20's summary): where in the schedule the gap opens or
closes, and for runs stopped before the end, which have no final figures, the only comparison there
is. When both nets finished, `final` compares the study's final figures (the mean of the last 10 %
of windows) over the same windows, with the standard error of the gap from the windows' spread:
each window is a fresh minibatch, so even one run's final figures are samples, and a gap inside
about two standard errors is a tie.

    python3 experiments/torch-replica/torch_degradation_compare.py DIR > DIR/phases.json
"""
import json, math, statistics, sys
d = sys.argv[1]
def load(n):
    rows = [json.loads(l) for l in open(f"{d}/{n}.jsonl")]
    return [r for r in rows if "step" in r], [r for r in rows if "final_train_error" in r]
r20, s20 = load("resnet20")
r56, s56 = load("resnet56")
e20 = {r["step"]: r["train_error"] for r in r20}
last = r56[-1]["step"]
if not s20:
    sys.exit(f"{d}/resnet20.jsonl has no summary line: ResNet-20's run did not finish")
total = s20[0]["iterations"]
m1, m2 = round(total * 0.5), round(total * 0.75)  # the replica's milestones
phases = [("lr 0.1", 10, m1), ("lr 0.01", m1 + 1, m2), ("lr 0.001", m2 + 1, total)]
out = {"resnet56_last_step": last, "phases": []}
for name, lo, hi in phases:
    steps = [r["step"] for r in r56 if lo <= r["step"] <= min(hi, last)]
    if not steps: continue
    tail = steps[-max(1, len(steps) // 4):]  # last quarter of the phase that both nets reached
    a = statistics.mean(e20[s] for s in tail); b = statistics.mean(r["train_error"] for r in r56 if r["step"] in set(tail))
    out["phases"].append({"phase": name, "steps": [tail[0], tail[-1]], "resnet20": round(a, 2), "resnet56": round(b, 2), "gap": round(b - a, 2)})
if s56:
    # The replica's final-figure rule (torch_degradation.py): the last ceil(n / 10) windows.
    n = len(r20)
    tail = [r["step"] for r in r20[-max(1, math.ceil(n / 10)):]]
    e56 = {r["step"]: r["train_error"] for r in r56}
    diff = [e56[s] - e20[s] for s in tail]
    a = statistics.mean(e20[s] for s in tail); b = statistics.mean(e56[s] for s in tail)
    se = statistics.stdev(diff) / math.sqrt(len(diff)) if len(diff) > 1 else None
    out["final"] = {"windows": len(tail), "steps": [tail[0], tail[-1]], "resnet20": round(a, 3), "resnet56": round(b, 3),
                    "gap": round(b - a, 3), "gap_se": None if se is None else round(se, 3)}
print(json.dumps(out, indent=1))
