#!/usr/bin/env python3
"""The gort::debug dashboard in a real browser (Debian's chromium, headless).

Test (ctest debug.browser):
    debug_browser_test.py --demo build/ci/demos/debug_dashboard
starts the debug_dashboard demo, loads its dashboard in headless chromium
(virtual time: about eight polls in a second or two), and checks what the
page drew against what the server reports: the charts have points and ink,
their newest values are the statistics the page received, the worker and
wait-reason tables match them, and the fiber table holds the demo's fibers
as the server's own dump shows them. A second load with #trace=1 records a
trace from the page. Exits 77 (ctest: skipped) when no browser is installed.

Screenshot (for docs/):
    debug_browser_test.py --demo ... --screenshot docs/dashboard.png --seconds 45
lets the page poll for real seconds (through the DevTools protocol over a
pipe) and saves a PNG.
"""
import argparse
import base64
import html
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--disable-dev-shm-usage",
]


def find_browser(given):
    for name in [given, os.environ.get("GORT_BROWSER"), "chromium", "chromium-browser", "google-chrome"]:
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Demo:
    """The debug_dashboard demo on a free port; killed on exit."""

    def __init__(self, path):
        self.proc = subprocess.Popen([path, "--addr", "127.0.0.1:0", "--workers", "2", "--seconds", "300"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else ""
        m = re.search(r"dashboard: (http://\S+/debug/gort/)", line)
        if not m:
            self.close()
            raise SystemExit(f"FAIL: the demo did not print its URL (got {line!r})")
        self.url = m.group(1)

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.read().decode()

    def close(self):
        """Stops it; returns what it printed after its URL."""
        if self.proc.poll() is None:
            self.proc.kill()
        rest = self.proc.stdout.read()
        self.proc.wait()
        return rest


def dump_dom(browser, url, budget_ms):
    with tempfile.TemporaryDirectory(prefix="gort-chromium-") as profile:
        r = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                            f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
                           capture_output=True, text=True, timeout=120)
    if "<html" not in r.stdout:
        raise SystemExit(f"FAIL: chromium printed no page (exit {r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def drawn_of(dom):
    m = re.search(r'<pre id="drawn"[^>]*>(.*?)</pre>', dom, re.S)
    if not m or not m.group(1).strip():
        raise SystemExit("FAIL: the page wrote nothing into #drawn (its script did not run?)")
    return json.loads(html.unescape(m.group(1)))


class Checks:
    def __init__(self):
        self.failed = []

    def check(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            self.failed.append(what)


def expand_ids(ranges):
    """"10-12, 15" -> [10, 11, 12, 15]"""
    ids = []
    for r in ranges.split(", "):
        a, _, b = r.partition("-")
        ids.extend(range(int(a), int(b or a) + 1))
    return ids


def parse_dump(text):
    """{id: (state, created at)} of the server's dump, folded fibers included."""
    fibers = {}
    for block in re.split(r"\n\s*\n", text):
        more = re.match(r"\d+ more goroutines \[[^\]]*\] with the same stack as goroutine (\d+): (.*)", block)
        if more and int(more.group(1)) in fibers:
            for i in expand_ids(more.group(2).strip()):
                fibers[i] = fibers[int(more.group(1))]
            continue
        m = re.match(r"goroutine (\d+) \[([^\]]*)\]:", block)
        if m:
            c = re.search(r"^created by goroutine \d+ at (.*)$", block, re.M)
            fibers[int(m.group(1))] = (m.group(2).split(", ")[0], c.group(1) if c else "")
    return fibers


def test_dashboard(browser, demo, c):
    dom = dump_dom(browser, demo.url, 8000)
    d = drawn_of(dom)
    server = json.loads(demo.get("stats"))
    dump = parse_dump(demo.get("fibers"))
    s = d["stats"]
    print(f"the page polled {d['polls']} times; it drew live={s['live']} switches={s['switches']}")

    c.check(d["polls"] >= 3, f"the page polled the stats at least 3 times ({d['polls']})")
    for name in ("fibers", "rates", "threads"):
        ch = d["charts"].get(name, {})
        c.check(ch.get("points", 0) == d["polls"], f"chart {name} has one point per poll ({ch.get('points')})")
        c.check(ch.get("ink", 0) > 300, f"chart {name} drew its lines ({ch.get('ink')} pixels of their colours)")
    last = d["charts"]["fibers"]["last"]
    c.check(last == {"live": s["live"], "runnable": s["runnable"], "blocked": s["blocked"]},
            f"the fibers chart ends at the polled live/runnable/blocked ({last})")
    c.check(d["charts"]["threads"]["last"]["workers"] == s["workers"] == 2 == server["workers"],
            "the workers chart shows the 2 workers the server reports")
    rate = d["charts"]["rates"]["last"]["switches"]
    c.check(isinstance(rate, (int, float)) and rate > 0, f"the rates chart has a switch rate ({rate})")
    c.check([w["run_queue"] for w in d["workers"]] == [w["run_queue"] for w in s["per_worker"]],
            "the worker table shows each worker's run queue")
    c.check(all(isinstance(w["busy"], (int, float)) and 0 <= w["busy"] <= 1 for w in d["workers"]),
            f"the worker table shows busy shares ({[w['busy'] for w in d['workers']]})")
    c.check(d["reasons"] == s["blocked_by_reason"], f"the wait-reason table is the polled one ({d['reasons']})")
    c.check(server["spawned"] >= s["spawned"] > 0 and server["switches"] >= s["switches"] > 0,
            "the polled numbers are the server's (its counters have only grown since)")

    f = d["fibers"]
    c.check(f is not None and f["total"] >= 40, f"the fiber table has the demo's fibers ({f and f['total']})")
    rows = {r["id"]: r for r in f["rows"]}
    c.check(dom.count("<tr data-id=") == f["shown"] == len(rows), f"{f['shown']} fiber rows are in the DOM")
    # The demo's five fibers blocked for good: created at one line, all in chan receive (the
    # pipeline's stages also receive, but they move on, and there are more of them).
    by_line = {}
    for r in f["rows"]:
        if "debug_dashboard.cpp" in r["created"]:
            by_line.setdefault(r["created"], []).append(r)
    waiters = [r for rs in by_line.values() if len(rs) == 5 and all(r["state"] == "chan receive" for r in rs)
               for r in rs]
    c.check(len(waiters) == 5, f"the fiber table shows the 5 fibers waiting for good ({len(waiters)})")
    c.check(all(dump.get(r["id"], ("", ""))[0] == "chan receive" and dump[r["id"]][1] == r["created"]
                for r in waiters), "the server's dump shows those fibers with the same state and creator")
    c.check(any(r["system"] for r in f["rows"]), "the server's own fibers are marked system")
    c.check(1 in rows and rows[1]["id"] in dump, "the main fiber is in the table and in the dump")


def test_trace_button(browser, demo, c):
    dom = dump_dom(browser, demo.url + "#trace=1", 5000)
    t = drawn_of(dom).get("trace") or {}
    c.check(t.get("status") == 200 and t.get("events", 0) > 10,
            f"a trace recorded from the page has events ({t})")
    c.check('download="gort-trace-' in dom, "the page offers the trace for download")


def cdp_screenshot(browser, url, seconds, out, width, height):
    """Loads `url`, waits `seconds` of real time, writes a PNG (DevTools protocol over a pipe)."""
    cmd_r, cmd_w = os.pipe()  # we write commands; chromium reads fd 3
    res_r, res_w = os.pipe()  # chromium writes fd 4; we read
    high = [os.dup(cmd_r), os.dup(res_w)]

    def child_fds():
        os.dup2(high[0], 3)
        os.dup2(high[1], 4)

    with tempfile.TemporaryDirectory(prefix="gort-chromium-") as profile:
        proc = subprocess.Popen([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
                                 f"--window-size={width},{height}"],
                                preexec_fn=child_fds, close_fds=False,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (cmd_r, res_w, *high):
            os.close(fd)
        buf = b""
        ids = iter(range(1, 1000))

        def call(method, params=None, session=None):
            nonlocal buf
            msg = {"id": next(ids), "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            os.write(cmd_w, json.dumps(msg).encode() + b"\0")
            deadline = time.time() + 60
            while time.time() < deadline:
                while b"\0" in buf:
                    raw, buf = buf.split(b"\0", 1)
                    reply = json.loads(raw)
                    if reply.get("id") == msg["id"]:
                        if "error" in reply:
                            raise SystemExit(f"FAIL: {method}: {reply['error']}")
                        return reply["result"]
                ready, _, _ = select.select([res_r], [], [], 1)
                if ready:
                    chunk = os.read(res_r, 1 << 20)
                    if not chunk:
                        break
                    buf += chunk
            raise SystemExit(f"FAIL: no answer to {method}")

        try:
            target = call("Target.createTarget", {"url": url})["targetId"]
            session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
            time.sleep(seconds)
            png = call("Page.captureScreenshot", {"format": "png"}, session)["data"]
            with open(out, "wb") as f:
                f.write(base64.b64decode(png))
            call("Browser.close")
        finally:
            os.close(cmd_w)
            os.close(res_r)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", required=True, help="the debug_dashboard binary")
    ap.add_argument("--browser", help="chromium by default ($GORT_BROWSER)")
    ap.add_argument("--screenshot", help="write a PNG of the dashboard instead of testing")
    ap.add_argument("--seconds", type=float, default=45, help="screenshot: real seconds to poll first")
    ap.add_argument("--size", default="1400x1100", help="screenshot: WIDTHxHEIGHT")
    args = ap.parse_args()
    browser = find_browser(args.browser)
    if not browser:
        print("SKIP: no chromium installed (apt-get install chromium, or ./scripts/deps.sh browser)")
        return SKIP
    demo = Demo(args.demo)
    try:
        if args.screenshot:
            w, h = (int(v) for v in args.size.split("x"))
            cdp_screenshot(browser, demo.url, args.seconds, args.screenshot, w, h)
            return 0
        c = Checks()
        test_dashboard(browser, demo, c)
        test_trace_button(browser, demo, c)
    finally:
        rest = demo.close()
    if c.failed:
        print(f"{len(c.failed)} check(s) failed; the demo printed:\n{rest}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
