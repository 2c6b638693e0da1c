// `emuctl console LAB NODE`: attach the terminal to a QEMU guest's serial
// console through the controller's relay (ControllerService.Console: the
// same path directly and over --ssh); Ctrl-] detaches.
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/format.h"
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
  ControllerConnection& c = **conn;

  grpc::ClientContext ctx;
  AddAuthToken(&ctx, c.target().token);
  auto stream = c.stub().Console(&ctx);
  v1::ConsoleInput hello;
  hello.set_lab(args.lab);
  hello.set_node(args.node);
  // Attached, the stream's first message is empty (proto/guest.proto); a
  // refusal (unknown node, not a guest, not allowed) ends it instead.
  v1::ConsoleOutput first;
  if (!stream->Write(hello) || !stream->Read(&first)) {
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    if (s.ok()) s = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "the console ended at once");
    return env.Fail(
        c.Describe(s, absl::StrCat("console ", args.lab, "/", args.node)));
  }
  *env.err << "emuctl: attached to " << args.lab << "/" << args.node
           << "; detach with Ctrl-]" << std::endl;
  env.out->write(first.data().data(), first.data().size());
  env.out->flush();

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
    return env.Fail(
        c.Describe(s, absl::StrCat("console ", args.lab, "/", args.node)));
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
