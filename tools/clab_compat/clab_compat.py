#!/usr/bin/python3
"""How many of containerlab's own topology files emu takes as they are
(issue 12's goal: >= 90 % of the linux-only and linux+bridge ones).

Kept outside the test suite: it reads a containerlab checkout the user
provides (nothing of containerlab is in this repository).

  clab_compat.py --emuctl bazel-bin/cli/emuctl CLAB_CHECKOUT [--deploy]
      [--verbose]

Finds lab-examples/**/*.clab.y*ml and tests/**/*.clab.y*ml, keeps the files
whose every node's kind (node > group > defaults, as containerlab resolves
it) is linux or bridge, and runs `emuctl validate FILE` on each (offline:
parse and validate, the process's environment for ${VAR}). With --deploy
(root, a cluster started beforehand, e.g. `emuctl local start --name c
--allow-host-commands` for containerlab's `target: host` stage commands,
and EMU_CLUSTER=/run/emu/c/cluster.json), each
file that validates is also brought up with `emuctl up`, every exec line
must have run (up fails otherwise), every link ipv4/ipv6 address must be
on its interface (`emuctl exec NODE -- ip -o addr show dev IFACE`), every
node's mgmt-ipv4/6 on its eth0 (any address where it asks for none) when
the file asks for the management network, and every host link's and
mgmt-net link's end must exist in the host's namespace (--host-netns:
the agent's; a local cluster's host h1 is the namespace emuhost-ID-h1),
then `emuctl down`, after which no host end may be left. Prints one line
per file and the percentages.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

import yaml


class Loader(yaml.SafeLoader):
    pass


def kinds_of(doc):
    """The resolved kind of every node, as containerlab resolves it."""
    topo = (doc or {}).get("topology") or {}
    defaults = topo.get("defaults") or {}
    groups = topo.get("groups") or {}
    out = {}
    for name, node in (topo.get("nodes") or {}).items():
        node = node or {}
        group = groups.get(node.get("group") or defaults.get("group") or "") or {}
        out[name] = node.get("kind") or group.get("kind") or defaults.get("kind") or ""
    return out


def has_host_node(doc):
    return "host" in (((doc or {}).get("topology") or {}).get("nodes") or {})


def link_addresses(doc):
    """(node, iface, address) of every extended-format endpoint address;
    node "host" is a host link's end in the host's namespace."""
    out = []
    for link in ((doc or {}).get("topology") or {}).get("links") or []:
        if not isinstance(link, dict):
            continue
        eps = link.get("endpoints") or []
        if link.get("endpoint"):
            eps = [link["endpoint"]]
        for e in eps:
            if isinstance(e, dict):
                for key in ("ipv4", "ipv6"):
                    v = e.get(key)
                    if v:
                        out.append((e.get("node"), e.get("interface"), v))
    return out


def host_ends(doc):
    """Names of the host links' ends in the host's namespace: "host:NAME"
    endpoints and type: host links' host-interface."""
    if has_host_node(doc):
        return []
    out = []
    for link in ((doc or {}).get("topology") or {}).get("links") or []:
        if not isinstance(link, dict):
            continue
        if link.get("type") in ("host", "mgmt-net") and link.get("host-interface"):
            out.append(str(link["host-interface"]))
            continue
        for e in link.get("endpoints") or []:
            for special in ("host", "mgmt-net"):
                if isinstance(e, str) and e.startswith(special + ":"):
                    out.append(e[len(special) + 1:])
                elif isinstance(e, dict) and e.get("node") == special:
                    out.append(str(e.get("interface")))
    return out


def mgmt_addresses(doc):
    """(node, address or None) for every node that gets eth0 on the
    management network, when the file asks for one (a `mgmt:` section,
    mgmt-ipv4/6 or mgmt-net links; docs/topology.md): its mgmt-ipv4 and
    mgmt-ipv6, or None for one the lab hands out."""
    doc = doc or {}
    topo = doc.get("topology") or {}
    nodes = topo.get("nodes") or {}
    links = topo.get("links") or []
    asked = "mgmt" in doc or any(
        isinstance(n, dict) and ("mgmt-ipv4" in n or "mgmt-ipv6" in n)
        for n in nodes.values()) or any(
        isinstance(l, dict) and (l.get("type") == "mgmt-net" or any(
            (isinstance(e, str) and e.startswith("mgmt-net:")) or
            (isinstance(e, dict) and e.get("node") == "mgmt-net")
            for e in l.get("endpoints") or []))
        for l in links)
    if not asked:
        return []
    defaults = topo.get("defaults") or {}
    groups = topo.get("groups") or {}
    kinds = kinds_of(doc)
    out = []
    for name, node in nodes.items():
        node = node or {}
        group = groups.get(node.get("group") or defaults.get("group") or "") or {}
        mode = str(node.get("network-mode") or group.get("network-mode") or
                   defaults.get("network-mode") or "")
        if kinds.get(name) != "linux" or mode in ("host", "none") or \
                mode.startswith("container:"):
            continue
        fixed = [node[k] for k in ("mgmt-ipv4", "mgmt-ipv6") if node.get(k)]
        out += [(name, str(a)) for a in fixed] or [(name, None)]
    return out


def in_host_netns(netns, argv):
    return (["ip", "netns", "exec", netns] if netns else []) + argv


def run(argv, cwd=None, timeout=300):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).strip()


def first_error(text):
    """emuctl's first line naming a file line (FILE:LINE: ...), else its last."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for line in lines:
        if re.match(r"^[^ :]+:\d+(:\d+)?: ", line) and "warning" not in line:
            return line
    return lines[-1] if lines else ""


def deploy(emuctl, path, doc, host_netns):
    rc, out = run([emuctl, "up", path], cwd=os.path.dirname(path), timeout=600)
    if rc != 0:
        run([emuctl, "down", doc.get("name", "")])
        return "up: " + first_error(out)
    problem = None
    for node, iface, addr in link_addresses(doc):
        if node == "host" and not has_host_node(doc):
            argv = in_host_netns(host_netns, ["ip", "-o", "addr", "show", "dev", iface])
        else:
            argv = [emuctl, "exec", doc["name"], node, "--", "ip", "-o", "addr",
                    "show", "dev", iface]
        rc, out = run(argv)
        if rc != 0 or addr.split("/")[0] not in out:
            problem = "%s:%s has no %s (%s)" % (node, iface, addr, out[:120])
            break
    for name in host_ends(doc):
        rc, out = run(in_host_netns(host_netns, ["ip", "-o", "link", "show", "dev", name]))
        if rc != 0 and problem is None:
            problem = "host end %s missing (%s)" % (name, out[:120])
    for node, addr in mgmt_addresses(doc):
        rc, out = run([emuctl, "exec", doc["name"], node, "--", "ip", "-o", "addr",
                       "show", "dev", "eth0"])
        want = addr.split("/")[0] if addr else "inet "
        if (rc != 0 or want not in out) and problem is None:
            problem = "%s:eth0 has no management address %s (%s)" % (
                node, addr or "", out[:120])
    rc, out = run([emuctl, "down", doc["name"]], timeout=600)
    if rc != 0 and problem is None:
        problem = "down: " + first_error(out)
    for name in host_ends(doc):
        rc, _ = run(in_host_netns(host_netns, ["ip", "-o", "link", "show", "dev", name]))
        if rc == 0 and problem is None:
            problem = "host end %s left after down" % name
    return problem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkout")
    ap.add_argument("--emuctl", required=True)
    ap.add_argument("--deploy", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--host-netns", default="",
                    help="the namespace the agent runs in, where host links' "
                         "ends are (default: this one; a local cluster's h1: "
                         "emuhost-ID-h1)")
    args = ap.parse_args()
    emuctl = os.path.abspath(args.emuctl)
    files = []
    for top in ("lab-examples", "tests"):
        for ext in ("yml", "yaml"):
            files += glob.glob(os.path.join(args.checkout, top, "**", "*.clab." + ext),
                           recursive=True)
    files = sorted(set(files))
    counts = {"linux": [0, 0], "linux+bridge": [0, 0]}
    skipped = 0
    for path in files:
        text = open(path).read()
        if "{{" in text:
            # containerlab's test harness renders these Go templates first;
            # containerlab itself does not take them as they are either.
            print("SKIP %s: a Go template, not a topology file" % path)
            skipped += 1
            continue
        try:
            doc = yaml.load(text, Loader=Loader)
        except yaml.YAMLError as e:
            print("SKIP %s: not YAML (%s)" % (path, str(e).splitlines()[0]))
            skipped += 1
            continue
        kinds = set(kinds_of(doc).values())
        if not kinds or not kinds <= {"linux", "bridge"}:
            skipped += 1
            if args.verbose:
                print("SKIP %s: kinds %s" % (path, sorted(kinds)))
            continue
        cls = "linux" if kinds == {"linux"} else "linux+bridge"
        counts[cls][1] += 1
        rc, out = run([emuctl, "validate", path], cwd=os.path.dirname(path))
        problem = None if rc == 0 else "validate: " + first_error(out)
        if problem is None and args.deploy:
            problem = deploy(emuctl, path, doc, args.host_netns)
        if problem is None:
            counts[cls][0] += 1
        rel = os.path.relpath(path, args.checkout)
        print("%-4s %-13s %s%s" % ("ok" if problem is None else "FAIL", cls, rel,
                                   "" if problem is None else ": " + problem))
    total_ok = sum(c[0] for c in counts.values())
    total = sum(c[1] for c in counts.values())
    for cls, (ok, n) in counts.items():
        print("%s: %d of %d (%.0f %%)" % (cls, ok, n, 100.0 * ok / n if n else 0))
    print("linux and linux+bridge: %d of %d (%.0f %%)%s; %d other files skipped" % (
        total_ok, total, 100.0 * total_ok / total if total else 0,
        " deployed" if args.deploy else " validated", skipped))


if __name__ == "__main__":
    main()
