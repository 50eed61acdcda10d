"""Final figures of the same experiments/torch-replica/torch_degradation.py study over several seeds: how far one net's
final training and test error move with the seed alone, the yardstick for a gap between two nets.

Each DIR is a finished study (its results.json, as the replica or torch_degradation_merge.py writes
it). They must share every training setting but the seed (and which depths and nets each trained);
a net trained twice with one seed is refused. Prints one JSON object: the shared settings and, per
net, its seeds, final training and test errors in seed order, their means and sample standard
deviations (null for one seed).

    python3 experiments/torch-replica/torch_degradation_seeds.py DIR [DIR ...] > OUT.json
"""
import json
import statistics
import sys

from torch_degradation_results import load_results, shared_settings

PER_INVOCATION = ("depths", "nets", "seed")


def fail(msg):
    sys.exit(f"torch_degradation_seeds: {msg}")


if len(sys.argv) < 2:
    fail("usage: torch_degradation_seeds.py DIR [DIR ...]")
results = [(d, load_results(d, fail)) for d in sys.argv[1:]]
shared = shared_settings(results, PER_INVOCATION, fail)
nets = {}
for d, r in results:
    seed = r["config"]["seed"]
    for run in r["runs"]:
        per = nets.setdefault(run["net"], {})
        if seed in per:
            fail(f"{run['net']} seed {seed} is in both {per[seed][0]} and {d}")
        per[seed] = (d, run)


def spread(xs):
    return {"mean": round(statistics.mean(xs), 3),
            "sd": round(statistics.stdev(xs), 3) if len(xs) > 1 else None}


out = {"config": shared, "nets": {}}
for net, per in nets.items():
    seeds = sorted(per)
    train = [per[s][1]["final_train_error"] for s in seeds]
    test = [per[s][1]["test_error"] for s in seeds]
    out["nets"][net] = {"seeds": seeds, "iterations": per[seeds[0]][1]["iterations"],
                        "train_error": train, "test_error": test,
                        "train": spread(train), "test": spread(test)}
print(json.dumps(out, indent=1))
