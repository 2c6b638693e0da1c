// emu web view: reload the page every few seconds while "live" is ticked
// (remembered per browser); on a lab's page, poll its counters (the same
// login cookie) and fill the traffic, CPU and memory cells. No framework,
// no build step.
(function () {
  var box = document.getElementById("live");
  if (!box) return;
  box.checked = window.localStorage.getItem("emu-live") === "1";
  var timer = null;
  function arm() {
    if (timer) window.clearTimeout(timer);
    timer = box.checked ? window.setTimeout(function () { window.location.reload(); }, 5000) : null;
  }
  box.addEventListener("change", function () {
    window.localStorage.setItem("emu-live", box.checked ? "1" : "0");
    arm();
  });
  arm();
})();

(function () {
  var status = document.getElementById("counters");
  if (!status || !window.fetch) return;
  var src = status.getAttribute("data-src");
  var previous = null;  // the last sample, for rates
  var units = ["", "k", "M", "G", "T"];
  function human(v, unit) {
    var i = 0;
    while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return (i === 0 ? String(Math.round(v)) : v.toFixed(1)) + " " + units[i] + unit;
  }
  function n(v) { return Number(v || 0); }
  function index(sample) {
    var out = {links: {}, nodes: {}, time: n(sample.time_unix_us)};
    (sample.links || []).forEach(function (l) { out.links[l.link] = l; });
    (sample.nodes || []).forEach(function (u) { out.nodes[u.node] = u; });
    return out;
  }
  function fill(now) {
    var dt = previous ? (now.time - previous.time) / 1e6 : 0;
    document.querySelectorAll("td.ctr[data-link]").forEach(function (td) {
      var l = now.links[td.getAttribute("data-link")];
      var dir = td.getAttribute("data-dir");
      if (!l || !l[dir]) { td.textContent = "–"; return; }
      var d = l[dir];
      var text = human(n(d.delivered_packets), "pkts") + ", " + human(n(d.delivered_bytes), "B");
      if (dt > 0) {
        var p = previous.links[l.link] && previous.links[l.link][dir];
        var db = n(d.delivered_bytes) - (p ? n(p.delivered_bytes) : 0);
        if (db >= 0) text += ", " + human(db * 8 / dt, "bit/s");
      }
      if (n(d.dropped_packets) > 0) text += ", " + n(d.dropped_packets) + " dropped";
      td.textContent = text;
      td.setAttribute("data-bytes", String(n(d.delivered_bytes)));
    });
    document.querySelectorAll("td.ctr[data-node]").forEach(function (td) {
      var u = now.nodes[td.getAttribute("data-node")];
      if (!u) { td.textContent = "–"; return; }
      if (td.getAttribute("data-field") === "memory") {
        td.textContent = human(n(u.memory_bytes), "B");
        return;
      }
      var text = n(u.cpu_seconds).toFixed(2) + " s";
      var p = previous && previous.nodes[u.node];
      if (dt > 0 && p) text += ", " + (100 * (n(u.cpu_seconds) - n(p.cpu_seconds)) / dt).toFixed(1) + " %";
      td.textContent = text;
    });
  }
  function poll() {
    window.fetch(src, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
          return body;
        });
      })
      .then(function (sample) {
        var now = index(sample);
        fill(now);
        previous = now;
        var problems = sample.problems || [];
        status.textContent = "counters at " + new Date(now.time / 1000).toLocaleTimeString() +
            (problems.length ? " (" + problems.join("; ") + ")" : "");
        status.className = problems.length ? "error" : "muted";
      })
      .catch(function (e) {
        status.textContent = "counters: " + e.message;
        status.className = "error";
      })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();
