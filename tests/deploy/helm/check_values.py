"""Checks that a chart's values.yaml has every key of the Go chart's values, with the same type.

Usage: check_values.py OURS.yaml GO.yaml

Same keys means a Go values file never sets something our templates ignore; same types means
`helm template` merges them the way the user expects (a map stays a map, a list a list).
"""

import sys

import yaml


def paths(value, prefix=""):
    """(dotted path, type name) for every key, descending into maps only."""
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path, type(child).__name__
            yield from paths(child, path)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        ours = dict(paths(yaml.safe_load(f)))
    with open(sys.argv[2], encoding="utf-8") as f:
        theirs = dict(paths(yaml.safe_load(f)))
    failures = []
    for path, kind in sorted(theirs.items()):
        if path not in ours:
            failures.append(f"missing key {path}")
        elif ours[path] != kind and "NoneType" not in (kind, ours[path]):
            failures.append(f"{path}: Go has a {kind}, ours a {ours[path]}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
