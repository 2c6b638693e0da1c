#include "deploy/host_install/host_install.h"

#include <openssl/sha.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/ssh_tunnel.h"

namespace emu::deploy::host_install {
namespace {

using cli::ShellQuote;
using remote_host::RemoteHost;
using remote_host::RunResult;

// Runs the steps of one operation in order and keeps the report.
class StepRunner {
 public:
  StepRunner(RemoteHost& host, std::vector<StepReport>* report,
             std::vector<std::string> steps)
      : host_(host), report_(report) {
    report_->clear();
    for (std::string& s : steps) {
      report_->push_back(StepReport{std::move(s), StepReport::kNotRun, ""});
    }
  }
  // Runs step `i`: `fn` returns whether it changed something and sets
  // the detail. On failure the error names the host and the step.
  absl::Status Do(size_t i, const std::function<absl::StatusOr<bool>(
                                std::string* detail)>& fn) {
    StepReport& r = (*report_)[i];
    absl::StatusOr<bool> changed = fn(&r.detail);
    if (!changed.ok()) {
      r.state = StepReport::kFailed;
      r.detail = std::string(changed.status().message());
      return absl::Status(changed.status().code(),
                          absl::StrCat(host_.Describe(), ": step ", r.step,
                                       ": ", changed.status().message()));
    }
    r.state = *changed ? StepReport::kChanged : StepReport::kUnchanged;
    any_changed_ = any_changed_ || *changed;
    return absl::OkStatus();
  }
  bool any_changed() const { return any_changed_; }

 private:
  RemoteHost& host_;
  std::vector<StepReport>* report_;
  bool any_changed_ = false;
};

// Runs `command`; a non-zero exit is an error quoting its stderr.
absl::StatusOr<RunResult> Check(RemoteHost& host, const std::string& command,
                                absl::string_view what) {
  absl::StatusOr<RunResult> r = host.Run(command);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " failed (exit ", r->exit_code,
        "): ", absl::StripAsciiWhitespace(r->err.empty() ? r->out : r->err)));
  }
  return r;
}

absl::StatusOr<bool> CheckOs(RemoteHost& host, std::string* detail) {
  absl::StatusOr<RunResult> r =
      Check(host, commands::OsRelease(), "reading /etc/os-release");
  if (!r.ok()) return r.status();
  const std::string os(absl::StripAsciiWhitespace(r->out));
  if (os != "debian 12") {
    return absl::FailedPreconditionError(absl::StrCat(
        "emu hosts run Debian 12; this one is '", os, "' (/etc/os-release)"));
  }
  *detail = os;
  return false;
}

absl::StatusOr<bool> CheckPrivileges(RemoteHost& host, std::string* detail) {
  absl::StatusOr<RunResult> r = Check(host, commands::UserId(), "id -u");
  if (!r.ok()) return r.status();
  if (absl::StripAsciiWhitespace(r->out) == "0") {
    host.UseSudo(false);
    *detail = "root";
    return false;
  }
  absl::StatusOr<RunResult> sudo = host.Run(commands::SudoWorks());
  if (!sudo.ok()) return sudo.status();
  if (sudo->exit_code != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the login is uid ", absl::StripAsciiWhitespace(r->out),
        ", not root, and `sudo -n true` fails (",
        absl::StripAsciiWhitespace(sudo->err),
        "): log in as root or allow this user sudo without a password"));
  }
  host.UseSudo(true);
  *detail = "through sudo -n";
  return false;
}

absl::StatusOr<bool> EnsurePackages(RemoteHost& host,
                                    const std::vector<std::string>& packages,
                                    std::string* detail) {
  if (packages.empty()) return false;
  absl::StatusOr<RunResult> r = host.Run(commands::PackageStatus(packages));
  if (!r.ok()) return r.status();
  std::vector<std::string> missing = packages;
  for (absl::string_view line : absl::StrSplit(r->out, '\n')) {
    std::vector<std::string> f =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (f.size() == 2 && f[1] == "installed") {
      missing.erase(std::remove(missing.begin(), missing.end(), f[0]),
                    missing.end());
    }
  }
  if (missing.empty()) {
    *detail = absl::StrCat(packages.size(), " packages present");
    return false;
  }
  absl::StatusOr<RunResult> apt = Check(
      host, commands::AptInstall(missing),
      absl::StrCat("apt-get install ", absl::StrJoin(missing, " ")));
  if (!apt.ok()) return apt.status();
  *detail = absl::StrCat("installed ", absl::StrJoin(missing, " "));
  return true;
}

// Writes `content` to `path` unless it is there already with that mode.
absl::StatusOr<bool> EnsureFile(RemoteHost& host, const std::string& content,
                                const std::string& path, int mode) {
  absl::StatusOr<RunResult> r =
      Check(host, commands::FileState(path), absl::StrCat("stat ", path));
  if (!r.ok()) return r.status();
  const std::string want =
      absl::StrCat(Sha256Hex(content), " ", absl::StrFormat("%o", mode));
  if (absl::StripAsciiWhitespace(r->out) == want) return false;
  absl::Status copied = host.Copy(content, path, mode);
  if (!copied.ok()) return copied;
  return true;
}

absl::StatusOr<bool> EnsureBinaries(RemoteHost& host, const AddPlan& plan,
                                    std::string* detail) {
  std::vector<std::string> copied;
  for (const Binary& b : plan.binaries) {
    absl::StatusOr<bool> c = EnsureFile(
        host, b.content, plan.layout.bin_dir() + "/" + b.name, 0755);
    if (!c.ok()) return c.status();
    if (*c) copied.push_back(b.name);
  }
  *detail = copied.empty() ? "same SHA-256"
                           : absl::StrCat("copied ", absl::StrJoin(copied, " "));
  return !copied.empty();
}

std::string EnvFile(const AddPlan& plan, const std::string& controller) {
  return absl::StrCat(
      "# Written by `emuctl cluster add` (docs/cluster.md).\n",
      "EMU_HOST_NAME=", plan.name, "\nEMU_AGENT_LISTEN=", plan.address, ":",
      plan.agent_port, "\nEMU_TUNNEL_LISTEN=", plan.address, ":",
      plan.tunnel_port, "\nEMU_CONTROLLER=", controller,
      "\nEMU_AGENT_ADVERTISE=\n");
}

std::string ControllerOf(const AddPlan& plan) {
  return plan.controller.empty()
             ? "unix:" + plan.layout.controller_socket()
             : plan.controller;
}

// Keeps a certificate on the host that this CA issued for this host.
absl::StatusOr<bool> HasValidCertificate(RemoteHost& host,
                                         const AddPlan& plan,
                                         const common::pki::Paths& paths) {
  absl::StatusOr<RunResult> cert = host.Run(commands::ReadFile(paths.cert));
  if (!cert.ok()) return cert.status();
  if (cert->exit_code != 0) return false;
  absl::StatusOr<common::pki::Identity> id = common::pki::Verify(
      plan.ca.cert_pem, cert->out, absl::Now() + absl::Hours(24 * 30));
  if (!id.ok() || id->role != common::pki::Role::kAgent ||
      id->name != plan.name) {
    return false;
  }
  absl::StatusOr<RunResult> key = host.Run(commands::FileState(paths.key));
  if (!key.ok()) return key.status();
  return absl::EndsWith(absl::StripAsciiWhitespace(key->out), " 600");
}

absl::StatusOr<bool> EnsureCredentials(RemoteHost& host, const AddPlan& plan,
                                       std::string* detail) {
  const common::pki::Paths paths =
      common::pki::AgentPaths(plan.layout.pki_dir(), plan.name);
  std::vector<std::string> written;
  auto ensure = [&](const std::string& content, const std::string& path,
                    int mode) -> absl::Status {
    absl::StatusOr<bool> c = EnsureFile(host, content, path, mode);
    if (!c.ok()) return c.status();
    if (*c) written.push_back(path);
    return absl::OkStatus();
  };
  if (absl::Status s = ensure(plan.ca.cert_pem, paths.ca_cert, 0644); !s.ok()) {
    return s;
  }
  absl::StatusOr<bool> valid = HasValidCertificate(host, plan, paths);
  if (!valid.ok()) return valid.status();
  if (!*valid) {
    common::pki::Subject subject;
    subject.role = common::pki::Role::kAgent;
    subject.name = plan.name;
    subject.alt_names = {plan.address};
    absl::StatusOr<common::pki::Credentials> issued =
        common::pki::Issue(plan.ca, subject);
    if (!issued.ok()) return issued.status();
    // The key first: a certificate is only ever next to its own key.
    if (absl::Status s = host.Copy(issued->key_pem, paths.key, 0600);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = host.Copy(issued->cert_pem, paths.cert, 0644);
        !s.ok()) {
      return s;
    }
    written.push_back(paths.cert);
    written.push_back(paths.key);
  }
  if (absl::Status s = ensure(plan.token + "\n", plan.layout.token_file(), 0600);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ensure(EnvFile(plan, ControllerOf(plan)),
                              plan.layout.env_file(), 0600);
      !s.ok()) {
    return s;
  }
  *detail = written.empty() ? "certificate valid, files the same"
                            : absl::StrCat("wrote ", absl::StrJoin(written, " "));
  return !written.empty();
}

absl::StatusOr<bool> UsesSystemd(RemoteHost& host, ServiceMode mode,
                                 const Layout& layout) {
  if (mode != ServiceMode::kAuto) return mode == ServiceMode::kSystemd;
  if (!layout.prefix.empty()) return false;
  absl::StatusOr<RunResult> r = host.Run(commands::Systemd());
  if (!r.ok()) return r.status();
  return r->exit_code == 0;
}

absl::StatusOr<bool> EnsureAgent(RemoteHost& host, const AddPlan& plan,
                                 bool restart, std::string* detail) {
  absl::StatusOr<bool> systemd = UsesSystemd(host, plan.service, plan.layout);
  if (!systemd.ok()) return systemd.status();
  if (*systemd) {
    absl::StatusOr<bool> unit =
        EnsureFile(host, plan.unit, plan.layout.unit_file(), 0644);
    if (!unit.ok()) return unit.status();
    absl::StatusOr<RunResult> active = host.Run(
        "systemctl is-enabled --quiet emu-agent && "
        "systemctl is-active --quiet emu-agent");
    if (!active.ok()) return active.status();
    if (active->exit_code == 0 && !*unit && !restart) {
      *detail = "systemd: emu-agent.service active";
      return false;
    }
    absl::StatusOr<RunResult> r =
        Check(host,
              "systemctl daemon-reload && systemctl enable --quiet emu-agent "
              "&& systemctl restart emu-agent",
              "systemctl start emu-agent");
    if (!r.ok()) return r.status();
    *detail = "systemd: emu-agent.service (re)started";
    return true;
  }
  absl::StatusOr<RunResult> running =
      host.Run(commands::ProcessRunning(plan.layout));
  if (!running.ok()) return running.status();
  const std::string pid(absl::StripAsciiWhitespace(running->out));
  if (running->exit_code == 0 && !pid.empty() && !restart) {
    *detail = absl::StrCat("no systemd: detached process, pid ", pid, " in ",
                           plan.layout.pid_file());
    return false;
  }
  absl::StatusOr<RunResult> stopped =
      Check(host, commands::StopProcess(plan.layout), "stopping emu-agent");
  if (!stopped.ok()) return stopped.status();
  absl::StatusOr<RunResult> started =
      Check(host, commands::StartProcess(plan.layout, AgentArgv(plan)),
            "starting emu-agent");
  if (!started.ok()) return started.status();
  *detail = absl::StrCat("no systemd: started as a detached process, pid ",
                         absl::StripAsciiWhitespace(started->out), " in ",
                         plan.layout.pid_file(), ", log ",
                         plan.layout.log_file());
  return true;
}

}  // namespace

const std::vector<std::string>& AgentPackages() {
  // `ldd emu-agent` mapped to packages with `dpkg -S` (libc6, libstdc++6,
  // libgcc-s1 and zlib1g are on every Debian system). QEMU is not here:
  // a host without it serves netns nodes only (its capabilities say so).
  static const auto* packages = new std::vector<std::string>{
      "libgrpc++1.51", "libgrpc29", "libc-ares2",        "libprotobuf32",
      "libabsl20220623", "libnl-3-200", "libnl-route-3-200", "libre2-9",
      "libssl3"};
  return *packages;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  std::string hex;
  for (unsigned char c : digest) absl::StrAppendFormat(&hex, "%02x", c);
  return hex;
}

std::vector<std::string> AgentArgv(const AddPlan& plan) {
  const Layout& l = plan.layout;
  return {l.bin_dir() + "/emu-agent",
          "--host_name=" + plan.name,
          absl::StrCat("--listen=", plan.address, ":", plan.agent_port),
          absl::StrCat("--tunnel_listen=", plan.address, ":", plan.tunnel_port),
          "--controller=" + ControllerOf(plan),
          "--token_file=" + l.token_file(),
          "--pki_dir=" + l.pki_dir(),
          "--state_dir=" + l.state_dir(),
          "--guest_run_dir=" + l.run_dir() + "/guests",
          "--image_dir=" + l.prefix + "/var/lib/emu/images"};
}

absl::Status Add(RemoteHost& host, const AddPlan& plan, const Hooks& hooks,
                 std::vector<StepReport>* report) {
  StepRunner run(host, report,
                 {"os", "privileges", "packages", "binaries", "credentials",
                  "tunnel", "agent", "registration"});
  absl::Status s = run.Do(0, [&](std::string* d) { return CheckOs(host, d); });
  if (s.ok()) s = run.Do(1, [&](std::string* d) {
    return CheckPrivileges(host, d);
  });
  if (s.ok()) s = run.Do(2, [&](std::string* d) {
    return EnsurePackages(host, plan.packages, d);
  });
  if (s.ok()) s = run.Do(3, [&](std::string* d) {
    return EnsureBinaries(host, plan, d);
  });
  if (s.ok()) s = run.Do(4, [&](std::string* d) {
    return EnsureCredentials(host, plan, d);
  });
  // Only what the agent reads changes it: its binary and credentials.
  const bool restart = run.any_changed() &&
                       ((*report)[3].state == StepReport::kChanged ||
                        (*report)[4].state == StepReport::kChanged);
  if (s.ok()) s = run.Do(5, [&](std::string* d) -> absl::StatusOr<bool> {
    if (!plan.controller.empty()) {
      *d = "the agent dials " + plan.controller + " directly";
      return false;
    }
    absl::StatusOr<bool> opened = hooks.ensure_tunnel();
    if (!opened.ok()) return opened.status();
    *d = absl::StrCat(*opened ? "opened" : "running", ": ssh -R ",
                      plan.layout.controller_socket(), " to the controller");
    return *opened;
  });
  if (s.ok()) s = run.Do(6, [&](std::string* d) {
    return EnsureAgent(host, plan, restart, d);
  });
  if (s.ok()) s = run.Do(7, [&](std::string* d) -> absl::StatusOr<bool> {
    absl::Status w = hooks.wait_registered();
    if (!w.ok()) {
      return absl::Status(
          w.code(), absl::StrCat(w.message(), " (the agent's log: ",
                                 plan.layout.log_file(),
                                 " or journalctl -u emu-agent)"));
    }
    *d = "reachable from the controller";
    return false;
  });
  return s;
}

absl::Status Remove(RemoteHost& host, const RemovePlan& plan,
                    const Hooks& hooks, std::vector<StepReport>* report) {
  StepRunner run(host, report,
                 {"privileges", "drain", "agent", "leftovers", "tunnel",
                  "files"});
  const Layout& l = plan.layout;
  absl::Status s =
      run.Do(0, [&](std::string* d) { return CheckPrivileges(host, d); });
  if (s.ok()) s = run.Do(1, [&](std::string* d) { return hooks.drain(d); });
  if (s.ok()) s = run.Do(2, [&](std::string* d) -> absl::StatusOr<bool> {
    absl::StatusOr<bool> systemd = UsesSystemd(host, plan.service, l);
    if (!systemd.ok()) return systemd.status();
    if (*systemd) {
      absl::StatusOr<RunResult> r = Check(
          host,
          absl::StrCat("if [ -e ", ShellQuote(l.unit_file()),
                       " ]; then systemctl disable --now --quiet emu-agent; "
                       "rm -f ", ShellQuote(l.unit_file()),
                       "; systemctl daemon-reload; echo stopped; fi"),
          "systemctl stop emu-agent");
      if (!r.ok()) return r.status();
      *d = r->out.empty() ? "no unit" : "systemd unit stopped and removed";
      return !r->out.empty();
    }
    absl::StatusOr<RunResult> r =
        Check(host, commands::StopProcess(l), "stopping emu-agent");
    if (!r.ok()) return r.status();
    const std::string pid(absl::StripAsciiWhitespace(r->out));
    *d = pid.empty() ? "not running" : "ended pid " + pid;
    return !pid.empty();
  });
  if (s.ok()) s = run.Do(3, [&](std::string* d) -> absl::StatusOr<bool> {
    if (!plan.force) {
      *d = "none (drained)";
      return false;
    }
    absl::StatusOr<RunResult> r = Check(
        host,
        absl::StrCat("if [ -x ", ShellQuote(l.bin_dir() + "/emu-agent"),
                     " ]; then ", ShellQuote(l.bin_dir() + "/emu-agent"),
                     " --cleanup --host_name=", ShellQuote(plan.name),
                     " --state_dir=", ShellQuote(l.state_dir()), "; fi"),
        "emu-agent --cleanup");
    if (!r.ok()) return r.status();
    *d = "labs' namespaces and processes removed";
    return true;
  });
  if (s.ok()) s = run.Do(4, [&](std::string* d) -> absl::StatusOr<bool> {
    absl::StatusOr<bool> closed = hooks.close_tunnel();
    if (!closed.ok()) return closed.status();
    *d = *closed ? "reverse tunnel ended" : "none";
    return *closed;
  });
  if (s.ok()) s = run.Do(5, [&](std::string* d) -> absl::StatusOr<bool> {
    const common::pki::Paths p = common::pki::AgentPaths(l.pki_dir(), plan.name);
    std::vector<std::string> paths = {p.ca_cert,       p.cert,
                                      p.key,           l.token_file(),
                                      l.env_file(),    l.pid_file(),
                                      l.controller_socket(), l.log_file()};
    for (const std::string& b : plan.binaries) {
      paths.push_back(l.bin_dir() + "/" + b);
    }
    absl::StatusOr<RunResult> r = Check(
        host,
        commands::RemovePaths(
            paths,
            {l.state_dir(), l.run_dir() + "/guests",
             l.prefix + "/var/lib/emu/images"},
            {l.pki_dir(), l.etc_dir(), l.run_dir(), l.prefix + "/var/lib/emu"}),
        "removing emu's files");
    if (!r.ok()) return r.status();
    const std::string removed(absl::StripAsciiWhitespace(r->out));
    *d = removed.empty() ? "none left" : "removed " + removed;
    return !removed.empty();
  });
  return s;
}

std::string FormatReport(const std::vector<StepReport>& report) {
  std::string out;
  std::vector<std::string> done, not_done;
  bool failed = false;
  for (const StepReport& r : report) {
    switch (r.state) {
      case StepReport::kChanged:
        absl::StrAppend(&out, r.step, ": changed (", r.detail, ")\n");
        done.push_back(r.step);
        break;
      case StepReport::kUnchanged:
        absl::StrAppend(&out, r.step, ": unchanged (", r.detail, ")\n");
        done.push_back(r.step);
        break;
      case StepReport::kFailed:
        absl::StrAppend(&out, r.step, ": FAILED: ", r.detail, "\n");
        not_done.push_back(r.step);
        failed = true;
        break;
      case StepReport::kNotRun:
        not_done.push_back(r.step);
        break;
    }
  }
  if (failed) {
    absl::StrAppend(&out, "done: ",
                    done.empty() ? "nothing" : absl::StrJoin(done, ", "),
                    "\nnot done: ", absl::StrJoin(not_done, ", "), "\n");
  }
  return out;
}

namespace commands {

std::string OsRelease() {
  return ". /etc/os-release && echo \"$ID $VERSION_ID\"";
}
std::string UserId() { return "id -u"; }
std::string SudoWorks() { return "sudo -n true"; }
std::string Systemd() { return "test -d /run/systemd/system"; }

std::string PackageStatus(const std::vector<std::string>& packages) {
  std::vector<std::string> quoted;
  for (const std::string& p : packages) quoted.push_back(ShellQuote(p));
  return absl::StrCat(
      "dpkg-query -W -f='${Package} ${db:Status-Status}\\n' ",
      absl::StrJoin(quoted, " "), " 2>/dev/null; true");
}

std::string AptInstall(const std::vector<std::string>& packages) {
  std::vector<std::string> quoted;
  for (const std::string& p : packages) quoted.push_back(ShellQuote(p));
  const std::string install = absl::StrCat(
      "apt-get install -y -q --no-install-recommends ",
      absl::StrJoin(quoted, " "));
  // The cached lists first; only when they do not have it, the network.
  return absl::StrCat("export DEBIAN_FRONTEND=noninteractive; ", install,
                      " || { apt-get update -q && ", install, "; }");
}

std::string FileState(const std::string& path) {
  const std::string q = ShellQuote(path);
  return absl::StrCat("if [ -f ", q, " ]; then echo \"$(sha256sum < ", q,
                      " | cut -d' ' -f1) $(stat -c %a ", q,
                      ")\"; else echo absent; fi");
}

std::string ReadFile(const std::string& path) {
  return "cat -- " + ShellQuote(path);
}

namespace {
// Sets $pid to the agent recorded in the pid file when it runs `bin`
// (also when bin was replaced since: "(deleted)").
std::string FindAgent(const Layout& layout) {
  const std::string bin = layout.bin_dir() + "/emu-agent";
  return absl::StrCat(
      "pid=$(cat ", ShellQuote(layout.pid_file()),
      " 2>/dev/null); exe=$(readlink /proc/\"$pid\"/exe 2>/dev/null); "
      "case \"$exe\" in ",
      ShellQuote(bin), "|", ShellQuote(bin + " (deleted)"),
      ") ;; *) pid= ;; esac; ");
}
}  // namespace

std::string ProcessRunning(const Layout& layout) {
  return FindAgent(layout) + "[ -n \"$pid\" ] && echo \"$pid\"";
}

std::string StopProcess(const Layout& layout) {
  // SIGTERM; the labs' namespaces stay (as with systemd's KillMode=process).
  return FindAgent(layout) + absl::StrCat(
      "if [ -n \"$pid\" ]; then kill \"$pid\"; i=0; "
      "while readlink /proc/\"$pid\"/exe >/dev/null 2>&1 && [ $i -lt 100 ]; "
      "do sleep 0.1; i=$((i+1)); done; "
      "readlink /proc/\"$pid\"/exe >/dev/null 2>&1 && kill -9 \"$pid\"; "
      "echo \"$pid\"; fi; rm -f ",
      ShellQuote(layout.pid_file()));
}

std::string StartProcess(const Layout& layout,
                         const std::vector<std::string>& argv) {
  std::vector<std::string> quoted;
  for (const std::string& a : argv) quoted.push_back(ShellQuote(a));
  const std::string log = layout.log_file();
  return absl::StrCat(
      "set -e; mkdir -p ", ShellQuote(layout.run_dir()), " ",
      ShellQuote(log.substr(0, log.rfind('/'))), "; cd /; setsid ",
      absl::StrJoin(quoted, " "), " >>", ShellQuote(log),
      " 2>&1 </dev/null & echo $! > ", ShellQuote(layout.pid_file()),
      "; echo $!");
}

std::string RemovePaths(const std::vector<std::string>& paths,
                        const std::vector<std::string>& dirs,
                        const std::vector<std::string>& empty_dirs) {
  std::string out = "for f in";
  for (const std::string& p : paths) absl::StrAppend(&out, " ", ShellQuote(p));
  absl::StrAppend(&out,
                  "; do if [ -e \"$f\" ] || [ -S \"$f\" ]; then rm -f \"$f\" "
                  "&& printf '%s ' \"$f\"; fi; done; for d in");
  for (const std::string& d : dirs) absl::StrAppend(&out, " ", ShellQuote(d));
  absl::StrAppend(&out,
                  "; do if [ -e \"$d\" ]; then rm -rf \"$d\" && "
                  "printf '%s ' \"$d\"; fi; done;");
  // emu's own directories, when nothing else is in them.
  for (const std::string& d : empty_dirs) {
    absl::StrAppend(&out, " rmdir ", ShellQuote(d), " 2>/dev/null;");
  }
  absl::StrAppend(&out, " true");
  return out;
}

}  // namespace commands
}  // namespace emu::deploy::host_install
