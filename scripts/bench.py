#!/usr/bin/env python3
"""Runs gort-bench and its peers side by side and writes the results page.

Called by scripts/bench.sh after it has built the programs. Each peer is a
program with gort-bench's CLI (`<workload> [--workers N] [--size N]`, see
bench/cli.hpp) printing
`BENCH name=<w> workers=<n> ops=<ops> ns_per_op=<x> check=<value>`. For each
workload and worker count, every system runs once to warm up, then RUNS times,
alternating systems run by run; the table shows medians. Peak RSS and CPU time
come from /usr/bin/time -f '%M %U %S'.

With --verify (the `bench` tests of ctest) nothing is timed or written: every
workload of every given peer runs once at a small --size, at 1 and 2 workers,
next to gort-bench with the same arguments, and the two check= values must be
equal; the exit status is 1 otherwise.
"""
import argparse
import datetime
import html
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

WORKLOADS = ["spawn", "yield", "skynet", "pingpong", "sieve", "mpmc", "mutex", "balance", "idle",
             "stall_block", "stall_spin", "stall_pingpong", "context", "dump"]
WORKERS = [1, 2]
# What each workload must compute (bench/go/main.go's definitions). balance: the
# total busy work in us of 100,000 tasks drawn from splitmix64 seeded 42.
EXPECTED_CHECK = {
    "spawn": "499500000", "yield": "2000000", "skynet": "499999500000", "pingpong": "1000000",
    "sieve": "7919", "mpmc": "12500005000000", "mutex": "10000000", "balance": "1053836",
    "idle": "1000", "stall_block": "10", "stall_spin": "20", "stall_pingpong": "1000000",
    "context": "1000000", "dump": "10000",
}
# gort / Go ns-per-op targets, at 1 and 2 workers.
TARGET_VS_GO = {"spawn": 0.5, "skynet": 0.7, "pingpong": 0.5, "sieve": 0.7, "mpmc": 1.0,
                "mutex": 1.0, "yield": 0.5, "context": 1.0}
# --verify: each workload's small instance (its --size, bench/cli.hpp), big
# enough that the check value is not trivial.
VERIFY_SIZE = {
    "spawn": 10000, "yield": 1000, "skynet": 1000, "pingpong": 1000, "sieve": 100, "mpmc": 1000,
    "mutex": 100, "balance": 1000, "idle": 20, "stall_block": 20, "stall_spin": 20, "stall_pingpong": 500,
    "dump": 100,
}
BENCH_RE = re.compile(r"^BENCH name=(\S+) workers=(\d+) ops=(\d+) ns_per_op=([0-9.eE+-]+) check=(\S*)$")
BEGIN, END = "<!-- bench.py: begin -->", "<!-- bench.py: end -->"


class System:
    def __init__(self, key, label, path):
        self.key, self.label, self.path = key, label, path
        self.workloads = self.list_workloads()

    def list_workloads(self):
        """The workloads the program registers: its usage line `workloads: a b c`."""
        p = subprocess.run([self.path], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        m = re.search(r"^workloads:(.*)$", p.stderr + p.stdout, re.M)
        return set(m.group(1).split()) if m else set()


def run_once(system, workload, workers, timeout, size=None):
    """One run: (ns_per_op, peak_rss_kib, cpu_s, check) or an error string."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as tf:
        cmd = ["/usr/bin/time", "-f", "%M %U %S", "-o", tf.name,
               system.path, workload, "--workers", str(workers)]
        if size is not None:
            cmd += ["--size", str(size)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout} s"
        lines = [m for m in (BENCH_RE.match(l) for l in p.stdout.splitlines()) if m]
        if p.returncode != 0 or not lines:
            tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or [""]
            return f"exit {p.returncode}: {tail[0][:120]}"
        m = lines[-1]
        fields = tf.read().split()[-3:]
        rss_kib, user_s, sys_s = int(fields[0]), float(fields[1]), float(fields[2])
        return float(m.group(4)), rss_kib, user_s + sys_s, m.group(5)


def run_timed(system, workload, workers, timeout):
    """run_once plus the wall time of the whole process (for the slow-run rule)."""
    t0 = time.monotonic()
    r = run_once(system, workload, workers, timeout)
    return r, time.monotonic() - t0


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    return [
        ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("nproc", sh("nproc")),
        ("CPU", cpu),
        ("kernel", platform.release()),
        ("load average at start", sh("cut -d' ' -f1-3 /proc/loadavg")),
        ("C++ compiler", sh("c++ --version | head -1")),
        ("Go", sh("go version") or "not installed"),
        ("Boost", sh("dpkg-query -W -f='${Version}' libboost-context-dev 2>/dev/null")),
    ]


def fmt_ns(x):
    return "–" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.2f}")


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def fmt_ratio(r, target=None):
    if r is None:
        return "–"
    s = f"{r:.2f}"
    if target is not None:
        s += " ✓" if r <= target else f" ✗ (≤ {target})"
    return s


PEER_COLOURS = {"Go": "#00add8", "Boost.Fiber": "#c0392b", "Asio": "#7d3c98"}


def chart_svg(bars, peer_labels):
    """Horizontal grouped bars of gort ÷ peer ns/op on a log scale (1 = parity,
    left of the line = gort faster). Plain SVG, no plotting library needed."""
    lo, hi = 0.01, 100.0
    bar_h, left, width, top = 10, 130, 560, 40
    row_h = max(26, 6 + len(peer_labels) * (bar_h + 1))  # one bar per peer
    height = top + row_h * len(bars) + 50

    def x(r):
        r = min(max(r, lo), hi)
        return left + width * (math.log10(r) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" height="{height}" '
         'font-family="sans-serif" font-size="11">',
         f'<rect width="100%" height="100%" fill="white"/>',
         f'<text x="{left}" y="16" font-size="13" font-weight="bold">gort ÷ peer, ns per op '
         '(log scale; left of 1 = gort faster)</text>']
    for i, p in enumerate(peer_labels):
        c = PEER_COLOURS.get(p, "#888")
        o.append(f'<rect x="{left + i * 140}" y="22" width="10" height="10" fill="{c}"/>'
                 f'<text x="{left + 14 + i * 140}" y="31">gort ÷ {html.escape(p)}</text>')
    for t in (0.01, 0.1, 0.5, 1, 2, 10, 100):
        xt = x(t)
        o.append(f'<line x1="{xt:.1f}" y1="{top}" x2="{xt:.1f}" y2="{height - 40}" '
                 f'stroke="{"#000" if t == 1 else "#ddd"}" stroke-width="{1.5 if t == 1 else 1}"/>'
                 f'<text x="{xt:.1f}" y="{height - 26}" text-anchor="middle">{t:g}</text>')
    for j, (label, rs) in enumerate(bars):
        y0 = top + j * row_h + 3
        o.append(f'<text x="{left - 6}" y="{y0 + row_h / 2}" text-anchor="end">{html.escape(label)}</text>')
        for i, (p, r) in enumerate(rs):
            if r is None:
                continue
            y = y0 + i * (bar_h + 1)
            a, b = sorted((x(1), x(r)))
            o.append(f'<rect x="{a:.1f}" y="{y}" width="{max(b - a, 1):.1f}" height="{bar_h}" '
                     f'fill="{PEER_COLOURS.get(p, "#888")}"><title>{html.escape(label)}: gort ÷ '
                     f'{html.escape(p)} = {r:.2f}</title></rect>')
            o.append(f'<text x="{(b + 3) if r >= 1 else (a - 3):.1f}" y="{y + bar_h - 1}" '
                     f'text-anchor="{"start" if r >= 1 else "end"}" font-size="9">{r:.2f}</text>')
    o.append(f'<text x="{left}" y="{height - 8}" fill="#555">balance: ns per task; idle: CPU ns '
             'while idle; dump: ns per dump of 10,000 stacks (a ratio of 0.01 or less is drawn at 0.01)</text>')
    o.append("</svg>\n")
    return "\n".join(o)


def verify(systems, timeout):
    """--verify: each peer's check= against gort's on small instances. Exit status."""
    gort, peers = systems[0], systems[1:]
    failures = []
    for p in peers:
        if not p.workloads:
            failures.append(f"{p.label}: {p.path} lists no workloads (its usage line)")
        for w in sorted(p.workloads):
            if w not in gort.workloads or w not in VERIFY_SIZE:
                failures.append(f"{p.label} `{w}`: not a gort-bench workload with a small size "
                                "(VERIFY_SIZE in scripts/bench.py)")
                continue
            for n in WORKERS:
                got = [run_once(s, w, n, timeout, VERIFY_SIZE[w]) for s in (gort, p)]
                checks = [r if isinstance(r, str) else f"check={r[3]}" for r in got]
                ok = all(not isinstance(r, str) for r in got) and got[0][3] == got[1][3]
                print(f"{'ok  ' if ok else 'FAIL'} {w} --workers {n} --size {VERIFY_SIZE[w]}: "
                      f"gort {checks[0]}, {p.label} {checks[1]}", flush=True)
                if not ok:
                    failures.append(f"{p.label} `{w}` workers={n}: gort {checks[0]}, {p.label} {checks[1]}")
    for f in failures:
        print(f"bench.py --verify: {f}", file=sys.stderr)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gort", required=True)
    ap.add_argument("--go")
    ap.add_argument("--boostfiber")
    ap.add_argument("--asio")
    ap.add_argument("--verify", action="store_true",
                    help="only compare each peer's check= values with gort's on small instances")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--slow", type=float, default=10.0,
                    help="a system whose warm-up takes longer than this many seconds (wall) "
                         "gets a single measured run for that workload and worker count")
    ap.add_argument("--out", default="docs/benchmarks.md")
    ap.add_argument("--note", action="append", default=[], help="a note for the page (repeatable)")
    ap.add_argument("workloads", nargs="*", help="a subset of the workloads (default: all)")
    a = ap.parse_args()

    notes = list(a.note)
    systems = [System("gort", "gort", a.gort)]
    for key, label, path in (("go", "Go", a.go), ("boostfiber", "Boost.Fiber", a.boostfiber),
                             ("asio", "Asio", a.asio)):
        if path:
            systems.append(System(key, label, path))
    peers = systems[1:]
    if a.verify:
        sys.exit(verify(systems, a.timeout))
    wanted = a.workloads or WORKLOADS
    for w in wanted:
        if w not in WORKLOADS:
            sys.exit(f"bench.py: unknown workload {w!r} (known: {' '.join(WORKLOADS)})")
        for s in systems:
            if w not in s.workloads:
                notes.append(f"`{w}` is not (yet) implemented by {s.label}: skipped for it.")

    results = {}  # (system key, workload, workers) -> list of runs
    errors = {}
    for w in wanted:
        runners = [s for s in systems if w in s.workloads]
        if not runners:
            continue
        for n in WORKERS:
            # warm-up, then RUNS rounds alternating the systems
            slow = set()
            for rnd in range(a.runs + 1):
                for s in runners:
                    if rnd > 1 and s.key in slow:
                        continue
                    r, wall = run_timed(s, w, n, a.timeout)
                    if rnd == 0 and wall > a.slow:
                        slow.add(s.key)
                        notes.append(f"{s.label} `{w}` workers={n}: the warm-up took {wall:.0f} s, "
                                     "so it was measured once, not "
                                     f"{a.runs} times.")
                    label = "warm-up" if rnd == 0 else f"run {rnd}"
                    if isinstance(r, str):
                        errors[(s.key, w, n)] = r
                        print(f"  {s.label:12} {w:9} workers={n} {label}: FAILED {r}", flush=True)
                        continue
                    print(f"  {s.label:12} {w:9} workers={n} {label}: {r[0]:.2f} ns/op, "
                          f"{r[1] / 1024:.1f} MiB, {r[2]:.2f} s CPU, check={r[3]}", flush=True)
                    if rnd > 0:
                        results.setdefault((s.key, w, n), []).append(r)

    def med(key, w, n, i):
        runs = results.get((key, w, n))
        return statistics.median(r[i] for r in runs) if runs else None

    def check_ok(key, w, n):
        runs = results.get((key, w, n))
        return runs is not None and all(r[3] == EXPECTED_CHECK[w] for r in runs)

    out = []
    out.append("## Results\n")
    out.append(f"Medians of {a.runs} runs after a warm-up, systems alternating run by run; "
               "ns per operation as each program reports it (only the workload is timed), peak RSS "
               "and CPU time (user + system) of the whole process from `/usr/bin/time`. "
               "Ratios are gort ÷ peer: below 1 means gort is faster. `idle` reports CPU "
               "nanoseconds used while idling 1 s instead of ns per op; `dump` the ns of one dump "
               "of 10,000 parked fibers' call stacks.\n")
    head = ["workload", "workers"] + [f"{s.label} ns/op" for s in systems]
    head += [f"gort/{p.label}" for p in peers]
    head += [f"{s.label} RSS MiB" for s in systems] + [f"{s.label} CPU s" for s in systems]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    bad_checks = []
    for w in wanted:
        for n in WORKERS:
            if not any((s.key, w, n) in results or (s.key, w, n) in errors for s in systems):
                continue
            row = [f"`{w}`", str(n)]
            for s in systems:
                if (s.key, w, n) in errors and (s.key, w, n) not in results:
                    row.append("failed")
                else:
                    row.append(fmt_ns(med(s.key, w, n, 0)))
                    if (s.key, w, n) in results and not check_ok(s.key, w, n):
                        bad_checks.append(f"{s.label} `{w}` workers={n}")
            g = med("gort", w, n, 0)
            for p in peers:
                target = TARGET_VS_GO.get(w) if p.key == "go" else None
                row.append(fmt_ratio(ratio(g, med(p.key, w, n, 0)), target))
            for s in systems:
                rss = med(s.key, w, n, 1)
                row.append("–" if rss is None else f"{rss / 1024:.1f}")
            for s in systems:
                cpu = med(s.key, w, n, 2)
                row.append("–" if cpu is None else f"{cpu:.2f}")
            out.append("| " + " | ".join(row) + " |")
    out.append("")
    if peers:
        out.append("![gort ÷ peer, ns per op, log scale](benchmarks.svg)\n")

    derived = []
    if "balance" in wanted:
        for s in systems:
            one, two = med(s.key, "balance", 1, 0), med(s.key, "balance", 2, 0)
            if one and two:
                mark = (" ✓" if one / two >= 1.8 else " ✗ (target ≥ 1.8)") if s.key == "gort" else ""
                derived.append(f"- `balance` 2-worker speedup, {s.label}: {one / two:.2f}×{mark}")
    if "idle" in wanted:
        for s in systems:
            for n in WORKERS:
                ns = med(s.key, "idle", n, 0)
                if ns is not None:
                    mark = (" ✓" if ns < 1e7 else " ✗ (target < 0.01 s)") if s.key == "gort" else ""
                    derived.append(f"- `idle` CPU while idling 1 s at {n} workers, {s.label}: "
                                   f"{ns / 1e9:.4f} s{mark}")
    if "skynet" in wanted and any(p.key == "go" for p in peers):
        for n in WORKERS:
            g, o = med("gort", "skynet", n, 1), med("go", "skynet", n, 1)
            if g and o:
                mark = " ✓" if g <= o else " ✗ (target: no higher than Go's)"
                derived.append(f"- `skynet` peak RSS at {n} workers: gort {g / 1024:.1f} MiB, "
                               f"Go {o / 1024:.1f} MiB{mark}")
    if derived:
        out.append("### Derived\n")
        out += derived
        out.append("")

    for (key, w, n), e in sorted(errors.items()):
        notes.append(f"{key} `{w}` workers={n} failed: {e}")
    for b in bad_checks:
        notes.append(f"CHECK MISMATCH: {b} did not print check={EXPECTED_CHECK[b.split('`')[1]]}")
    if not any(p.key == "go" for p in peers):
        notes.append("Go was not measured (no `go` toolchain).")
    if not any(p.key == "boostfiber" for p in peers):
        notes.append("Boost.Fiber was not measured (bench/boostfiber is not built yet, "
                     "or libboost-fiber-dev is missing).")
    if not any(p.key == "asio" for p in peers):
        notes.append("Asio was not measured (bench/asio is not built: it needs Boost.Asio's "
                     "C++20 coroutines, libboost-dev with GCC).")
    if notes:
        out.append("### Notes\n")
        out += [f"- {n}" for n in notes]
        out.append("")

    out.append("### Machine\n")
    out += [f"- {k}: {v}" for k, v in machine()]
    out.append("")
    out.append(f"Reproduce with `./scripts/bench.sh` (runs: {a.runs}).")
    body = "\n".join(out)
    print("\n" + body)

    # Rewrite only the generated part of the page; text around it is kept.
    page = ("# gort benchmarks\n\ngort side by side with Go (and Boost.Fiber, Boost.Asio) on the same "
            "workloads, measured by `scripts/bench.sh`.\n\n" + BEGIN + "\n" + END + "\n")
    if os.path.exists(a.out):
        with open(a.out) as f:
            old = f.read()
        if BEGIN in old and END in old:
            page = old
    pre, rest = page.split(BEGIN, 1)
    post = rest.split(END, 1)[1]
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        f.write(pre + BEGIN + "\n" + body + "\n" + END + post)
    print(f"\nwrote {a.out}")
    if peers:
        svg = os.path.splitext(a.out)[0] + ".svg"
        bars = []  # (label, [(peer label, ratio or None)])
        for w in wanted:
            for n in WORKERS:
                g = med("gort", w, n, 0)
                rs = [(p.label, ratio(g, med(p.key, w, n, 0))) for p in peers]
                if any(r is not None for _, r in rs):
                    bars.append((f"{w} ×{n}", rs))
        with open(svg, "w") as f:
            f.write(chart_svg(bars, [p.label for p in peers]))
        print(f"wrote {svg}")


if __name__ == "__main__":
    main()
