"""Counting outcomes and writing the report: refusals grouped by reason, differences with
their repro, and the summary line."""

import re
from collections import Counter, OrderedDict


def normalize_reason(msg):
    """A refusal message with literals, numbers and identifiers replaced, to group by."""
    s = re.sub(r"'(?:[^'\\]|\\.|'')*'", "'?'", msg)
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '"?"', s)
    s = re.sub(r"`+[^`]*`+", "`?`", s)
    s = re.sub(r"\b0x[0-9a-fA-F]+\b", "N", s)
    s = re.sub(r"-?\b\d+(\.\d+)?([eE][-+]?\d+)?\b", "N", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s[:200]


def diff_class(tag, diffs):
    first = diffs[0] if diffs else "?"
    kind = re.split(r"[:(]", first, 1)[0]
    kind = re.sub(r"`[^`]*`", "`?`", kind)
    kind = re.sub(r"\d+", "N", kind).strip()
    return f"{tag}: {kind}"


class Report:
    def __init__(self, seed, max_full=20, out=print):
        self.seed = seed
        self.max_full = max_full
        self.out = out
        self.statements = 0
        self.equal = 0
        self.refused = 0
        self.different = 0
        self.reasons = Counter()
        self.reason_example = {}
        self.differences = []
        self.classes = OrderedDict()
        self.lines = []  # the full report
        self.feature_counts = Counter()

    def log(self, line):
        self.lines.append(line)
        self.out(line)

    def add_equal(self):
        self.statements += 1
        self.equal += 1

    def add_refused(self, stmt, msg):
        self.statements += 1
        self.refused += 1
        reason = normalize_reason(msg)
        self.reasons[reason] += 1
        self.reason_example.setdefault(reason, stmt.sql)

    def add_difference(self, where, stmt, proxy, ref, diffs, repro, counted=True, feats=()):
        if counted:
            self.statements += 1
            self.different += 1
        cls = diff_class(stmt.tag if stmt else where, diffs)
        self.classes.setdefault(cls, []).append(len(self.differences))
        d = {"where": where, "sql": stmt.sql if stmt else "", "proxy": proxy, "ref": ref,
             "diffs": diffs, "repro": repro, "class": cls, "features": list(feats)}
        for f in feats:
            self.feature_counts[f] += 1
        self.differences.append(d)
        text = self.format_difference(len(self.differences), d)
        self.lines.append(text)
        if len(self.differences) <= self.max_full:
            self.out(text)
        elif len(self.differences) == self.max_full + 1:
            self.out(f"(further differences only in the report file)")

    def format_difference(self, n, d):
        lines = [f"=== difference #{n} [{d['class']}] seed {self.seed}, {d['where']}",
                 f"statement: {d['sql']}"]
        if d["features"]:
            lines.append(f"  features: {', '.join(d['features'])}")
        for x in d["diffs"]:
            lines.append(f"  - {x}")
        if d["proxy"] is not None:
            lines.append(f"  proxy:     {d['proxy']}")
        if d["ref"] is not None:
            lines.append(f"  reference: {d['ref']}")
        if d["repro"]:
            repro = d["repro"]
            lines.append("  repro (the session's earlier statements that change state, then this one):")
            if len(repro) > 40:
                lines.append(f"    … {len(repro) - 40} earlier ones omitted (see statements.log)")
                repro = repro[-40:]
            for s in repro:
                lines.append(f"    {s}")
        return "\n".join(lines)

    def summary(self):
        out = []
        if self.classes:
            out.append("differences by class:")
            for cls, idx in sorted(self.classes.items(), key=lambda kv: -len(kv[1])):
                out.append(f"  {len(idx):5d}  {cls}   (first: #{idx[0] + 1})")
        if self.feature_counts:
            out.append("differences by feature of the statement (a difference may count under several):")
            for f, n in self.feature_counts.most_common():
                out.append(f"  {n:5d}  {f}")
        if self.reasons:
            out.append("refusals by reason:")
            for reason, n in self.reasons.most_common():
                out.append(f"  {n:5d}  {reason}")
                example = self.reason_example[reason].replace("\n", "\\n")
                out.append(f"         e.g. {example[:160]}")
        out.append(f"seed: {self.seed}")
        out.append(f"fuzz-differential: {self.statements} statements, {self.equal} equal, "
                   f"{self.refused} refused, {self.different} different")
        # The plain closing line test runners read: equal answers pass, differences fail,
        # refusals are skipped.
        out.append(f"fuzz-differential: {self.equal} passed, {self.different} failed, "
                   f"{self.refused} skipped")
        return out

    def finish(self, path):
        for line in self.summary():
            self.log(line)
        with open(path, "w") as f:
            f.write("\n".join(self.lines) + "\n")
