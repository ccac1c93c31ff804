"""Loads dashboards into Grafana's own typed models and checks nothing the generator wrote is lost.

Grafana's official Python SDK (`grafana-foundation-sdk`, generated from Grafana's schemas) parses
each dashboard with `Dashboard.from_json` and writes it back with `to_json`. Every key and value
of the generated file must survive the round trip: a panel, target, threshold, link or variable
field that Grafana's model does not know would be dropped here, and is reported.

Usage: check_grafana_dashboards.py FILE...; prints one line per problem, exits 1 when any.
"""

import json
import sys

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.models import dashboard

plugins.register_default_plugins()


def lost(original, round_tripped, path, problems):
    """Appends to `problems` every part of `original` missing or changed in `round_tripped`."""
    if isinstance(original, dict):
        if not isinstance(round_tripped, dict):
            problems.append(f"{path}: became {type(round_tripped).__name__}")
            return
        for key, value in original.items():
            if key not in round_tripped:
                problems.append(f"{path}.{key}: dropped ({json.dumps(value)[:80]})")
            else:
                lost(value, round_tripped[key], f"{path}.{key}", problems)
    elif isinstance(original, list):
        if not isinstance(round_tripped, list) or len(round_tripped) != len(original):
            problems.append(f"{path}: list of {len(original)} became {json.dumps(round_tripped)[:80]}")
            return
        for index, (value, again) in enumerate(zip(original, round_tripped)):
            lost(value, again, f"{path}[{index}]", problems)
    elif original != round_tripped:
        problems.append(f"{path}: {original!r} became {round_tripped!r}")


def to_plain(model):
    """The SDK's `to_json` as plain JSON values."""
    return json.loads(json.dumps(model.to_json(), default=lambda value: value.to_json()))


def main(paths):
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as file:
            generated = json.load(file)
        model = dashboard.Dashboard.from_json(generated)
        if not model.panels:
            problems.append(f"{path}: no panels after loading")
        found = []
        lost(generated, to_plain(model), "", found)
        problems.extend(f"{path}{problem}" for problem in found)
        print(f"{path}: {len(generated.get('panels', []))} panels loaded, {len(found)} problems")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
