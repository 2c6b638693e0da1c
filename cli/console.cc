// `emuctl console LAB NODE`: attach the terminal to a QEMU guest's serial
// console through its agent; Ctrl-] detaches.
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/node_agent.h"
#include "common/auth.h"

namespace emu::cli {
namespace {

constexpr char kDetach = '\x1d';  // Ctrl-]

struct ConsoleArgs {
  std::string lab;
  std::string node;
  std::string linger = "1s";
};

// Raw mode on a terminal stdin for the lifetime of the object.
class RawTerminal {
 public:
  RawTerminal() {
    if (!isatty(0) || tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR;  // keep our own messages readable
    active_ = tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(0, TCSANOW, &saved_);
  }
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

int RunConsole(CommandEnv& env, const ConsoleArgs& args) {
  absl::StatusOr<absl::Duration> linger = ParseTimeout(args.linger, "--linger");
  if (!linger.ok()) return env.Fail(linger.status());
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  auto agent = FindGuestAgent(**conn, args.lab, args.node);
  if (!agent.ok()) return env.Fail(agent.status());

  grpc::ClientContext ctx;
  AddAuthToken(&ctx, (*conn)->target().token);
  auto stream = agent->stub->Console(&ctx);
  v1::ConsoleInput hello;
  hello.set_lab(agent->lab_key);
  hello.set_node(args.node);
  if (!stream->Write(hello)) {
    grpc::Status s = stream->Finish();
    return env.Fail(absl::StrCat("console ", args.lab, "/", args.node, ": ",
                                 s.error_message()));
  }
  *env.err << "emuctl: attached to " << args.lab << "/" << args.node
           << " on " << agent->host << "; detach with Ctrl-]" << std::endl;

  std::atomic<bool> ended{false};
  std::thread reader([&] {
    v1::ConsoleOutput out;
    while (stream->Read(&out)) {
      env.out->write(out.data().data(), out.data().size());
      env.out->flush();
    }
    ended = true;
  });
  {
    RawTerminal raw;
    char buf[1024];
    bool detach = false;
    while (!detach && !ended) {
      pollfd p{0, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      ssize_t n = read(0, buf, sizeof(buf));
      if (n <= 0) {  // stdin ended (a script): let the output settle
        absl::SleepFor(*linger);
        break;
      }
      std::string data(buf, n);
      size_t at = raw.active() ? data.find(kDetach) : std::string::npos;
      if (at != std::string::npos) {
        data.resize(at);
        detach = true;
      }
      v1::ConsoleInput in;
      in.set_data(data);
      if (!data.empty() && !stream->Write(in)) break;
    }
    stream->WritesDone();
  }
  reader.join();
  grpc::Status s = stream->Finish();
  *env.err << "\nemuctl: detached from " << args.lab << "/" << args.node
           << std::endl;
  if (!s.ok()) {
    return env.Fail(absl::StrCat("console ", args.lab, "/", args.node, ": ",
                                 s.error_message()));
  }
  return kExitOk;
}

}  // namespace

void AddConsoleCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand(
      "console", "Attach to a QEMU guest's serial console (Ctrl-] detaches)");
  auto args = std::make_shared<ConsoleArgs>();
  cmd->add_option("lab", args->lab, "Lab name")->required();
  cmd->add_option("node", args->node, "Node name (kind qemu)")->required();
  cmd->add_option("--linger", args->linger,
                  "When stdin is not a terminal and ends: keep printing the "
                  "console's output this long, then detach")
      ->capture_default_str();
  cmd->footer(
      "On a terminal, keys go to the guest as typed (Ctrl-C included) and\n"
      "Ctrl-] detaches, restoring the terminal. From a pipe, the input is\n"
      "typed into the console and emuctl detaches --linger after it ends.\n"
      "The guest keeps running either way.\n\n"
      "Examples:\n  emuctl console demo vm1\n"
      "  echo 'ip -br addr' | emuctl console demo vm1 --linger 2s");
  cmd->callback([&env, args] { env.exit_code = RunConsole(env, *args); });
}

}  // namespace emu::cli
