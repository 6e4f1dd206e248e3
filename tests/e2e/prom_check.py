#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks of tko's Prometheus output for tests/e2e/metrics.sh, with the parser
of Debian's python3-prometheus-client (run it with /usr/bin/python3).

  prom_check.py check FILE          the text parses, and keeps the conventions
  prom_check.py between A B C       every series of B lies between A and C, a
                                    scrape before and one after it: counters
                                    A <= B <= C, gauges equal, the same series

Prints what is wrong and exits 1, or exits 0."""
import sys

from prometheus_client.parser import text_string_to_metric_families

LABELS = {"state", "type", "reason", "iface", "path", "why", "feature"}


def families(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return list(text_string_to_metric_families(text))
    except ValueError as e:  # what the parser says of a malformed line
        sys.exit(f"{path}: the parser refuses it: {e}")


def conventions(path):
    errors, seen = [], set()
    fams = families(path)
    if not fams:
        errors.append("no metric family at all")
    for f in fams:
        if not f.documentation:
            errors.append(f"{f.name}: no HELP line")
        if f.type not in ("counter", "gauge"):
            errors.append(f"{f.name}: type '{f.type}' (no TYPE line?)")
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                errors.append(f"{s.name}{s.labels}: twice (a family repeated?)")
            seen.add(key)
            if f.type == "counter" and s.name != f.name + "_total":
                errors.append(f"{s.name}: a counter not named {f.name}_total")
            if f.type == "gauge" and s.name.endswith("_total"):
                errors.append(f"{s.name}: a gauge named *_total")
            if not s.name.startswith("tko_"):
                errors.append(f"{s.name}: not under tko_")
            if set(s.labels) - LABELS:
                errors.append(f"{s.name}: labels {sorted(set(s.labels) - LABELS)} "
                              f"(only {sorted(LABELS)})")
    return errors


def series(path):
    out = {}
    for f in families(path):
        for s in f.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = (f.type, s.value)
    return out


def between(a, b, c):
    sa, sb, sc = series(a), series(b), series(c)
    errors = []
    if not (sa.keys() == sb.keys() == sc.keys()):
        errors.append(f"not the same series: only in one of them: "
                      f"{sorted(set(sa) ^ set(sb) | set(sb) ^ set(sc))}")
    for key in sorted(sb.keys() & sa.keys() & sc.keys()):
        typ, vb = sb[key]
        va, vc = sa[key][1], sc[key][1]
        ok = va == vb == vc if typ == "gauge" else va <= vb <= vc
        if not ok:
            errors.append(f"{key[0]}{dict(key[1])}: {vb} is not between {va} and {vc}")
    return errors


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        errors = conventions(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "between":
        errors = between(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
