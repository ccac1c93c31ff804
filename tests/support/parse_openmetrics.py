"""Parses an OpenMetrics exposition from stdin with the reference Python parser (prometheus_client,
independent of this project) and prints its families and samples (with their exemplars) as JSON. Exits non-zero, with the
parser's message, when the exposition is invalid."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = {}
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {"type": family.type, "unit": family.unit, "help": family.documentation}
    for sample in family.samples:
        exemplar = None
        if sample.exemplar is not None:
            exemplar = {
                "labels": sample.exemplar.labels,
                "value": sample.exemplar.value,
                # A `Timestamp` (seconds and nanoseconds) or None.
                "timestamp": None if sample.exemplar.timestamp is None else float(sample.exemplar.timestamp),
            }
        samples.append({"name": sample.name, "labels": sample.labels, "value": sample.value, "exemplar": exemplar})
json.dump({"families": families, "samples": samples}, sys.stdout)
