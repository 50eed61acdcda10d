"""Reading finished experiments/torch-replica/torch_degradation.py studies, shared by torch_degradation_merge.py and
torch_degradation_seeds.py: each study's results.json, and the training settings several studies
must have in common before their nets can be put side by side."""
import json
import os


def load_results(src, fail):
    """`src`'s results.json; `fail` (which exits) names it when the study has not finished."""
    path = os.path.join(src, "results.json")
    if not os.path.exists(path):
        fail(f"{path} is missing (that invocation has not finished; resume it first)")
    with open(path) as f:
        return json.load(f)


def shared_settings(results, per_invocation, fail):
    """The settings every (src, results) pair shares, leaving out the `per_invocation` keys;
    `fail` names the first setting a study trained with differently from the first one."""
    first_src, first = results[0]
    shared = {k: v for k, v in first["config"].items() if k not in per_invocation}
    for src, r in results[1:]:
        settings = {k: v for k, v in r["config"].items() if k not in per_invocation}
        for k in sorted(set(shared) | set(settings)):
            if shared.get(k) != settings.get(k):
                fail(f"{src} trained with {k} = {settings.get(k)!r}, {first_src} with {shared.get(k)!r}")
    return shared
