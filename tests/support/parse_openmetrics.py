"""Parses an OpenMetrics exposition from stdin with the reference Python parser (prometheus_client,
independent of this project) and prints its families and samples as JSON. Exits non-zero, with the
parser's message, when the exposition is invalid."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = {}
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {"type": family.type, "unit": family.unit}
    for sample in family.samples:
        samples.append({"name": sample.name, "labels": sample.labels, "value": sample.value})
json.dump({"families": families, "samples": samples}, sys.stdout)
