#!/usr/bin/python3
"""Drives Debian's headless Chromium over the DevTools protocol (on a pipe:
no port opened) through emu's web view as a user would: the login form, the
lab list, a lab's page with its graph, and a run's Task timeline. Exits 1
naming the first thing the page does not show. Used by web_test.sh.

  web_browser.py --base http://127.0.0.1:PORT --token-file F --lab LAB
      --nodes r1,r2 [--run RUN_ID --tasks a,b] [--screenshot DIR]
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, user_data_dir):
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()

        argv = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + user_data_dir, "--remote-debugging-pipe",
                "about:blank"]
        # The protocol pipe is fd 3 (to the browser) and fd 4 (from it).
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", 'exec "$@" 3<&%d 4>&%d' % (to_browser_r, from_browser_w),
             "chromium"] + argv,
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=True, timeout=20):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=20):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def open_page(self):
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
            session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(domain + ".enable")

    def load(self, action):
        """Runs `action` (which navigates) and waits for the page's load."""
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        action()
        self.wait_event("Page.loadEventFired")

    def navigate(self, url):
        self.load(lambda: self.send("Page.navigate", {"url": url}))

    def js(self, expression):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")


def fail(msg):
    print("web_browser: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def wait_js(b, expression, ok, what, timeout=20):
    """Evaluates `expression` until ok(value), or fails naming `what`."""
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = b.js(expression)
        if ok(value):
            return value
        time.sleep(0.2)  # polling the page, not waiting for a fixed time
    fail("%s (last: %r; counters: %r)" % (
        what, value, b.js("document.getElementById('counters').textContent")))


def check_live_counters(b, link, traffic, nodes):
    cell = ("document.querySelector('td.ctr[data-link=%s][data-dir=a_to_b]')"
            % json.dumps(link))
    before = wait_js(b, "(%s || {}).getAttribute ? %s.getAttribute('data-bytes') : null"
                     % (cell, cell), lambda v: v is not None,
                     "no counter shown for link %s" % link)
    text = b.js(cell + ".textContent")
    if "pkts" not in text or "B" not in text:
        fail("counter of %s shows %r, want packets and bytes" % (link, text))
    for n in nodes:
        mem = wait_js(b, "document.querySelector('td.ctr[data-node=%s][data-field=memory]')"
                      ".textContent" % json.dumps(n), lambda v: v and v != "–",
                      "no memory shown for node %s" % n)
        if not mem.endswith("B"):
            fail("memory of %s shows %r" % (n, mem))
    if traffic:
        subprocess.run(["/bin/bash", "-c", traffic], check=True,
                       stdout=subprocess.DEVNULL)
        after = wait_js(b, cell + ".getAttribute('data-bytes')",
                        lambda v: v is not None and int(v) >= int(before) + 10000,
                        "counter of %s did not grow after the traffic (was %s)"
                        % (link, before))
        text = b.js(cell + ".textContent")
        if "bit/s" not in text:
            fail("counter of %s shows no rate: %r" % (link, text))
        print("web_browser: %s a->b delivered bytes %s -> %s: %s"
              % (link, before, after, text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--lab", required=True)
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--run", default="")
    ap.add_argument("--tasks", default="")
    ap.add_argument("--screenshot", default="")
    ap.add_argument("--counter-link", default="")
    ap.add_argument("--traffic", default="")
    args = ap.parse_args()
    token = open(args.token_file).read().strip()
    nodes = args.nodes.split(",")

    with tempfile.TemporaryDirectory(prefix="emu-web-test-") as profile:
        b = Browser(profile)
        try:
            b.open_page()
            # 1. No cookie yet: the login form, not the labs.
            b.navigate(args.base + "/")
            text = b.js("document.body.innerText")
            if "Log in" not in text or args.lab in text:
                fail("without a token the page should be the login form, got: " + text[:300])
            # 2. Log in through the form, as a person would.
            b.load(lambda: b.js(
                "document.querySelector('input[name=token]').value = %s;"
                "document.querySelector('form[action=\"/login\"]').submit(); true"
                % json.dumps(token)))
            if b.js("location.pathname") != "/":
                b.wait_event("Page.loadEventFired")
            text = b.js("document.body.innerText")
            if args.lab not in text:
                fail("lab list does not show lab %s after logging in: %s" % (args.lab, text[:500]))
            if "RUNNING" not in text:
                fail("lab list does not show the lab RUNNING: " + text[:500])
            # The stylesheet applied (the CSP lets our own files load).
            bg = b.js("getComputedStyle(document.querySelector('header')).backgroundColor")
            if bg != "rgb(36, 50, 63)":
                fail("stylesheet not applied (header background %s)" % bg)
            # 3. The lab's page: its graph (Graphviz SVG, one g.node per
            # node) and its nodes table.
            b.navigate(args.base + "/labs/" + args.lab)
            graph_nodes = b.js(
                "Array.from(document.querySelectorAll('.graph svg g.node title'))"
                ".map(t => t.textContent)")
            for n in nodes:
                if not any(t == n or t.endswith(n) or n in t for t in graph_nodes):
                    fail("graph has no node %s (titles: %s)" % (n, graph_nodes))
            width = b.js("document.querySelector('.graph svg').getBoundingClientRect().width")
            if not width or width < 50:
                fail("graph is not drawn (width %s)" % width)
            cells = b.js("Array.from(document.querySelectorAll('table.nodes td:first-child'))"
                         ".map(td => td.textContent)")
            if sorted(cells) != sorted(nodes):
                fail("nodes table shows %s, want %s" % (cells, nodes))
            links = b.js("document.querySelectorAll('table.links tr').length - 1")
            if links < 1:
                fail("links table is empty")
            if args.counter_link:
                check_live_counters(b, args.counter_link, args.traffic, nodes)
            if args.screenshot:
                shot = b.send("Page.captureScreenshot", {"format": "png"})
                with open(os.path.join(args.screenshot, "lab.png"), "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
            # 4. A run's Task timeline.
            if args.run:
                b.navigate(args.base + "/runs/" + args.run)
                bars = b.js("document.querySelectorAll('.timeline svg rect').length")
                text = b.js("document.body.innerText")
                tasks = args.tasks.split(",")
                if bars != len(tasks):
                    fail("timeline has %s bars, want %d: %s" % (bars, len(tasks), text[:500]))
                for t in tasks:
                    if t not in text:
                        fail("run page does not show Task %s" % t)
                if "SUCCEEDED" not in text:
                    fail("run page does not say SUCCEEDED: " + text[:300])
            # 5. Nothing the browser refused or complained about.
            errors = [e["params"]["entry"]["text"] for e in b.events
                      if e.get("method") == "Log.entryAdded"
                      and e["params"]["entry"]["level"] == "error"
                      and "401" not in e["params"]["entry"]["text"]]
            if errors:
                fail("browser errors: %s" % errors)
        finally:
            b.close()
    print("web_browser: ok")


if __name__ == "__main__":
    main()
