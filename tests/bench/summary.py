#!/usr/bin/env python3
"""tests/bench/summary.py: the one table `make bench` ends with.

usage: summary.py DIR BENCH...

Reads DIR/BENCH.results for each bench that was run (the `KEY VALUE...`
lines tests/lib/bench.sh writes: `bench_stat` lines are "median lowest
highest") and prints, per goal of issue 16, the anchor, our figure, the
ratio, the target and the verdict. A verdict is "met" or "MISSED" only
when the bench finished with `status ok` and wrote every figure the goal
needs; otherwise it says "not run" (the bench was not asked for), "FAILED"
(it was asked for and did not finish with every figure counted) or
"no figure" (it finished without this figure: a bug in the bench). A goal
no bench measures says "not measured". Runs with knobs set away from their
defaults (BENCH_REPEAT=2 ...) are marked "(short)" and listed below.
Exits 0 whatever the verdicts: the table is the output.
"""
import os
import platform
import subprocess
import sys

# (goal, what, bench, anchor key, our key, ratio key or None, target)
# target: (kind, value, text); kind "ratio>=", "ratio<=", "ours<=",
# "ours==", "ratio<" applies to the median.
GOALS = [
    ("P1", "pdns after restart, q/s: ours (S2) / software keys (S4)", "pdns",
     "s4_qps", "s2_qps", "s2_s4", ("ratio>=", 0.9, ">= 0.9")),
    ("P1", "pdns after restart: most HSM calls in one pass", "pdns",
     None, "s2_calls", None, ("ours==", 0, "0 calls")),
    ("P2", "after the weekly boundary, q/s: S3 / S4f", "pdns",
     "s4f_qps", "s3_qps", "s3_s4f", ("ratio>=", 0.9, ">= 0.9")),
    ("P2", "after the weekly boundary: most HSM calls in one pass", "pdns",
     None, "s3_calls", None, ("ours==", 0, "0 calls")),
    ("P3", "pdns after restart: C_Sign per answer (stock/ours)", "pdns-calls",
     "stock_restart_csign", "ours_restart_csign", None, ("ours==", 0, "0")),
    ("P3", "pdns after restart: HSM calls per answer (stock/ours)", "pdns-calls",
     "stock_restart_calls", "ours_restart_calls", "@ours/anchor", ("ratio<", 1.0, "< stock")),
    ("P4", "named on SoftHSM, s: pkcs11-provider / ours (time a/b)", "bind",
     "softhsm_named_a", "softhsm_named_b", "softhsm_named_ratio", ("ratio>=", 1.0, ">= 1.0")),
    ("P4", "dnssec-signzone on SoftHSM, sig/s: ours / pkcs11-provider", "bind",
     "softhsm_signzone_a", "softhsm_signzone_b", "softhsm_signzone_ratio", ("ratio>=", 1.0, ">= 1.0")),
    ("P4", "named on the network-HSM sim, s: a/b", "bind",
     "sim_named_a", "sim_named_b", "sim_named_ratio", ("ratio>=", 1.0, ">= 1.0")),
    ("P4", "dnssec-signzone on the sim, sig/s: b/a", "bind",
     "sim_signzone_a", "sim_signzone_b", "sim_signzone_ratio", ("ratio>=", 1.0, ">= 1.0")),
    ("P4", "named on the sim, C_Sign/s: ours / device limit", "bind",
     "sim_limit", "sim_named_rate_b", "sim_named_share_b", ("ratio>=", 0.9, ">= 0.9")),
    ("P4", "dnssec-signzone on the sim, sig/s: ours / device limit", "bind",
     "sim_limit", "sim_signzone_b", "sim_signzone_share_b", ("ratio>=", 0.9, ">= 0.9")),
    ("P5", "ssh-keygen per process on SoftHSM, ms/cert: ours / direct", "ssh",
     "softhsm_per_process_a", "softhsm_per_process_b", "softhsm_per_process_ratio", ("ratio<=", 1.2, "<= 1.2")),
    ("P5", "agent, 300 ms-login card, ms/cert: speed-up embedded/agent", "agent",
     "cert_embedded", "cert_agent", "cert_speedup", ("ratio>=", 3.0, ">= 3.0")),
    ("P6", "front miss, 1 thread, sig/s (ratio: time front/direct)", "front",
     "direct_rate_1", "front_rate_1", "miss_cost_1", ("ratio<=", 1.05, "<= 1.05")),
    ("P6", "front miss, 2 threads, sig/s (ratio: time front/direct)", "front",
     "direct_rate_2", "front_rate_2", "miss_cost_2", ("ratio<=", 1.05, "<= 1.05")),
    ("P6", "memory hit, us (anchor: one direct signature)", "front",
     "direct_us", "memory_hit_us", None, ("ours<=", 2.0, "<= 2 us")),
    ("P6", "disk hit, us (anchor: one direct signature)", "front",
     "direct_us", "disk_hit_us", None, ("ours<=", 5.0, "<= 5 us")),
    ("P9", "key lookup by URI, us: at 20,000 pairs (or SoftHSM's most) / at 10", "scale",
     "lookup_us_small", "lookup_us_large", "lookup_ratio", ("ratio<=", 2.0, "<= 2.0")),
    ("#18", "token group on the 50 ms sim, new sig/s: 1 member / 2 members", "ha",
     "rate_1", "rate_2", "ratio_2", ("ratio>=", 1.8, ">= 1.8")),
    ("#18", "token group, a member removed 30 s under load: failed signatures", "ha",
     None, "failover_failed", None, ("ours==", 0, "0")),
    ("#18", "PowerDNS on a group (50 ms sims), new sig/s: 1 member / 2 members", "ha",
     "pdns_rate_1", "pdns_rate_2", "pdns_ratio_2", ("ratio>=", 1.8, ">= 1.8")),
    ("#18", "PowerDNS, 1 member, new sig/s: ours / device limit", "ha",
     "pdns_limit_1", "pdns_rate_1", "pdns_share_1", ("ratio>=", 0.9, ">= 0.9")),
    ("#18", "PowerDNS, 2 members, new sig/s: ours / device limit", "ha",
     "pdns_limit_2", "pdns_rate_2", "pdns_share_2", ("ratio>=", 0.9, ">= 0.9")),
]
NOT_MEASURED = {}


def read_results(path):
    """{key: [words]} of a results file, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    res = {}
    for line in lines:
        words = line.split()
        if words:
            res[words[0]] = words[1:]
    return res


def number(words):
    """The median (first word) as a float, or None."""
    try:
        return float(words[0]) if words else None
    except ValueError:
        return None


def show(words):
    """"median [lowest-highest]" for a stat, the value for one number."""
    if not words:
        return "-"
    if len(words) == 3:
        return f"{words[0]} [{words[1]}-{words[2]}]"
    return " ".join(words)


def verdict(kind, value, ours, ratio):
    """"met" or "MISSED" for the median, None when the figure is missing."""
    got = ours if kind.startswith("ours") else ratio
    if got is None:
        return None
    ok = {"ratio>=": got >= value, "ratio<=": got <= value, "ratio<": got < value,
          "ours<=": got <= value, "ours==": got == value}[kind]
    return "met" if ok else "MISSED"


def row(goal, benches, run):
    gid, what, bench, akey, okey, rkey, (kind, value, target) = goal
    blank = ("-", "-", "-")
    if bench is None:
        return (gid, what, *blank, target, NOT_MEASURED.get(gid, "not measured"))
    if bench not in run:
        return (gid, what, *blank, target, f"not run (bench-{bench})")
    res = benches.get(bench)
    if res is None or res.get("status") != ["ok"]:
        return (gid, what, *blank, target, f"FAILED (bench-{bench})")
    anchor = res.get(akey) if akey else None
    ours = res.get(okey)
    if rkey == "@ours/anchor":
        a, o = number(anchor), number(ours)
        rwords = [f"{o / a:.3f}"] if a and o is not None else None
    else:
        rwords = res.get(rkey) if rkey else None
    if ours is None or (rkey and rwords is None) or (akey and anchor is None):
        return (gid, what, show(anchor), show(ours), show(rwords), target, f"no figure (bench-{bench})")
    v = verdict(kind, value, number(ours), number(rwords))
    if v is None:
        v = f"no figure (bench-{bench})"
    elif res.get("short") == ["yes"]:
        v += " (short)"
    return (gid, what, show(anchor) if akey else "-", show(ours), show(rwords) if rkey else "-", target, v)


def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip() or "?"
        if subprocess.run(["git", "diff", "--quiet", "HEAD"], check=False).returncode != 0:
            commit += " with uncommitted changes"
    except OSError:
        commit = "?"
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, commit {commit}"


def main(argv):
    if len(argv) < 3:
        print("usage: summary.py DIR BENCH...", file=sys.stderr)
        return 2
    directory, run = argv[1], argv[2:]
    benches = {b: read_results(os.path.join(directory, b + ".results")) for b in run}
    rows = [("goal", "what", "anchor", "ours", "ratio", "target", "verdict")]
    rows += [row(g, benches, run) for g in GOALS]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"summary: {machine()}")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print("figures: median [lowest-highest] over the passes; ratio per pass, then its median")
    for b in run:
        res = benches.get(b)
        if res is None:
            print(f"bench-{b}: FAILED before writing any figure")
        elif res.get("status") != ["ok"]:
            print(f"bench-{b}: FAILED (see its output above); knobs {' '.join(res.get('knobs', []))}")
        elif res.get("short") == ["yes"]:
            print(f"bench-{b}: short run, knobs {' '.join(res.get('knobs', []))} (not the defaults)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
