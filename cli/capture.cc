// `emuctl capture LAB NODE:IFACE [-w FILE|-] [-f FILTER] [-c N]`: frames on
// a link end as pcapng, from the agent that holds it, through the
// controller (docs/observability.md, "Capture").
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cli/commands.h"

namespace emu::cli {
namespace {

struct CaptureArgs {
  std::string lab;
  std::string target;  // NODE:IFACE
  std::string write;   // FILE, or "-" for stdout
  std::string filter;
  uint64_t count = 0;
  uint32_t snaplen = 0;
};

// SIGINT/SIGTERM while a capture runs: set a flag the watcher turns into a
// cancel of the call (a handler may not call into gRPC).
std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted = true; }

// Installs the handlers for the capture's lifetime, restoring the old ones.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = false;
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    // A reader that goes away (`| head`) is a write error, not death.
    sigaction(SIGPIPE, &ign, &old_pipe_);
  }
  ~InterruptScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGPIPE, &old_pipe_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {}, old_pipe_ {};
};

int RunCapture(CommandEnv& env, const CaptureArgs& args) {
  const size_t colon = args.target.find(':');
  if (colon == std::string::npos || colon == 0 ||
      colon + 1 == args.target.size()) {
    *env.err << "emuctl: capture: '" << args.target
             << "' is not NODE:IFACE (e.g. r1:eth1)" << std::endl;
    return kExitUsage;
  }
  std::string write = args.write;
  if (write.empty()) {
    if (isatty(STDOUT_FILENO) && env.out == &std::cout) {
      *env.err << "emuctl: capture: give -w FILE, or -w - to write pcapng to "
                  "stdout (a pipe, e.g. | tshark -r -)"
               << std::endl;
      return kExitUsage;
    }
    write = "-";
  }
  std::ofstream file;
  std::ostream* out = env.out;
  if (write != "-") {
    file.open(write, std::ios::binary | std::ios::trunc);
    if (!file) {
      return env.Fail(absl::StrCat("capture: cannot write ", write, ": ",
                                   strerror(errno)));
    }
    out = &file;
  }

  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  v1::CaptureRequest request;
  request.set_lab(args.lab);
  request.set_node(args.target.substr(0, colon));
  request.set_interface(args.target.substr(colon + 1));
  request.set_filter(args.filter);
  request.set_max_packets(args.count);
  request.set_snaplen(args.snaplen);

  InterruptScope interrupts;
  auto ctx = c.NewContext(absl::Hours(24));
  auto reader = c.stub().Capture(ctx.get(), request);
  // Cancels the call on an interrupt; ends with the call.
  absl::Notification done;
  std::thread watcher([&] {
    while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      if (g_interrupted) {
        ctx->TryCancel();
        return;
      }
    }
  });

  v1::CaptureChunk chunk;
  v1::CaptureChunk last;
  std::string host;
  bool write_failed = false;
  while (reader->Read(&chunk)) {
    if (!chunk.host().empty() && host.empty()) {
      host = chunk.host();
      *env.err << "emuctl: capturing on " << args.lab << " " << args.target
               << " (host " << host << ")"
               << (args.filter.empty() ? "" : absl::StrCat(", filter '", args.filter, "'"))
               << (args.count ? absl::StrCat(", ", args.count, " frames") : "")
               << "; Ctrl-C ends it" << std::endl;
    }
    out->write(chunk.pcapng().data(), chunk.pcapng().size());
    out->flush();
    last = chunk;
    if (!*out) {
      write_failed = true;
      ctx->TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  done.Notify();
  watcher.join();
  if (file.is_open()) file.close();

  const bool stopped_by_us = g_interrupted || write_failed;
  if (!s.ok() && !(stopped_by_us && s.error_code() == grpc::StatusCode::CANCELLED)) {
    // A refused capture leaves no empty file behind.
    if (write != "-" && host.empty()) std::remove(write.c_str());
    return env.Fail(c.Describe(s, "Capture"));
  }
  // The counts as of the agent's last chunk (it sends one at least every
  // second while the capture runs).
  *env.err << "emuctl: " << last.packets() << " packets captured";
  if (write != "-") *env.err << " to " << write;
  *env.err << "; " << last.dropped_by_emu() << " packets dropped by emu";
  if (last.dropped_by_emu() > 0) *env.err << " (the reader was too slow)";
  *env.err << ", " << last.dropped_by_kernel() << " by the kernel";
  if (stopped_by_us && !last.last()) {
    *env.err << (write_failed ? " (output closed)" : " (interrupted)");
  }
  *env.err << std::endl;
  return kExitOk;
}

}  // namespace

void AddCaptureCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand(
      "capture", "Capture frames on a node's interface as pcapng");
  auto args = std::make_shared<CaptureArgs>();
  cmd->add_option("lab", args->lab, "Lab name (or OWNER/LAB)")->required();
  cmd->add_option("target", args->target, "NODE:IFACE, e.g. r1:eth1")
      ->required();
  cmd->add_option("-w,--write", args->write,
                  "Write pcapng to FILE, or to stdout with -");
  cmd->add_option("-f,--filter", args->filter,
                  "BPF capture filter (pcap-filter(7)), e.g. 'icmp'");
  cmd->add_option("-c,--count", args->count, "Stop after N frames");
  cmd->add_option("-s,--snaplen", args->snaplen,
                  "Bytes kept per frame (default 262144)");
  cmd->footer(
      "The agent holding the interface captures it inside the node's\n"
      "namespace (a veth, a userspace-engine TAP, a cross-host tunnel's TAP;\n"
      "a guest's link end is the veth its TAP is joined to) and streams\n"
      "pcapng through the controller. Ctrl-C ends the capture on every hop.\n"
      "A reader slower than the link never slows it: frames beyond the\n"
      "agent's queue (8 MiB) are dropped and counted; the counts are printed\n"
      "on stderr at the end. Without -w, stdout must not be a terminal.\n\n"
      "Examples:\n"
      "  emuctl capture demo r1:eth1 -w r1.pcapng -c 100\n"
      "  emuctl capture demo r1:eth1 -f icmp -w - | tshark -r -\n"
      "  emuctl capture demo r1:eth1 -w - | wireshark -k -i -");
  cmd->callback([&env, args] { env.exit_code = RunCapture(env, *args); });
}

}  // namespace emu::cli
