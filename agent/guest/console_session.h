// The Command Shell Proxy: runs commands through a guest's serial console
// (a POSIX shell on ttyS0) and gets back their stdout, stderr and exit
// status, without trusting prompts.
//
// Protocol, per command (ShellCommandInput builds it; one command at a
// time per console):
//   1. Ctrl-U (drop a half-typed line), then the command base64-encoded in
//      lines of at most 512 bytes appended to /tmp/.emu_<nonce>.b64 (no
//      quoting or line-length problems, whatever the command holds);
//   2. one line that decodes it, prints a start marker, runs it with stdin
//      /dev/null and stderr to a file (through `sh -c` that first writes
//      its pid, which is its process group under the console shell's job
//      control, to /tmp/.emu_<nonce>.pid; in the background, waited for
//      with `wait`, so that Ctrl-C always gets the shell back even from a
//      command that ignores SIGINT), prints a stderr marker, the stderr
//      file, and an end marker that carries the exit status:
//        \n__EMU_<nonce>_S__\n  stdout  \n__EMU_<nonce>_E__\n  stderr
//        \n__EMU_<nonce>_<status>__\n
// <nonce> is 16 random hex digits per command, so neither output that
// imitates a prompt or a marker, nor a late marker of an earlier command,
// nor the terminal's echo of the command line (whose printf formats hold
// "%s"/"%d", not the values) can end a command. Bytes outside the markers
// (boot messages, prompts, echo, output of a command that timed out) are
// ignored. '\r' is dropped from console output (the tty turns "\n" into
// "\r\n").
//
// Interrupting a command (its timeout, or a cancel): Ctrl-C (SIGINT to the
// shell, which stops waiting for the command), then one line
// (ShellKillInput) that SIGKILLs the process whose pid the command wrote and
// all its descendants (found through /proc, as the console's shell often
// has no job control, so no process group of its own), then its process
// group, and removes its files: what ignores SIGINT ends too, and so do the
// processes a command line started (`sh -c 'a; b'`).
//
// Thread-safe: Run calls on one session are serialised.
#ifndef EMU_AGENT_GUEST_CONSOLE_SESSION_H_
#define EMU_AGENT_GUEST_CONSOLE_SESSION_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace emu::agent::guest {

// A byte stream to and from a console. Implementations: SocketConsole
// (QEMU's chardev socket), testing/FakeConsole.
class ConsoleChannel {
 public:
  virtual ~ConsoleChannel() = default;
  virtual absl::Status Write(absl::string_view bytes) = 0;
  // Bytes received since the last Read, waiting up to `timeout` for at
  // least one; "" when none came. UNAVAILABLE once the console is closed
  // (QEMU gone).
  virtual absl::StatusOr<std::string> Read(absl::Duration timeout) = 0;
};

struct ShellResult {
  int exit_code = 0;  // the command's status; 130 after a timeout
  std::string stdout_data;
  std::string stderr_data;
  bool timed_out = false;
  bool cancelled = false;  // interrupted by Run's `cancelled`; status 130
};

// What to type for one command (see the file comment). Pure.
std::string ShellCommandInput(absl::string_view nonce,
                              absl::string_view command);

// What to type, after Ctrl-C, to kill the command of `nonce` by its
// process group (or its pid, without job control) and remove its files.
// Harmless when it has ended already. Pure.
std::string ShellKillInput(absl::string_view nonce);

// What to type to probe whether the shell answers: the same three markers
// (empty output, status 0) from shell builtins only, so that probes typed
// before the shell started, and run in a burst when it does, cost no
// process creation (under TCG each fork+exec costs tens of ms). Pure.
std::string ShellProbeInput(absl::string_view nonce);

// Incremental parser of console output for one command's markers. Pure.
class MarkerParser {
 public:
  explicit MarkerParser(std::string nonce);
  // Feeds console bytes; true once the end marker has been seen.
  bool Feed(absl::string_view bytes);
  bool done() const { return done_; }
  // Valid once done().
  ShellResult result() const { return result_; }
  // Output between the start marker and now (for a timed-out command).
  std::string partial_stdout() const;

 private:
  const std::string nonce_;
  std::string buf_;  // '\r'-free bytes since the start marker (or all)
  bool started_ = false;
  bool done_ = false;
  ShellResult result_;
};

class ShellSession {
 public:
  using NonceFn = std::function<std::string()>;
  // `channel` is borrowed and must outlive the session. `nonce` makes the
  // per-command nonces (default: 16 random hex digits).
  explicit ShellSession(ConsoleChannel* channel, NonceFn nonce = nullptr);

  // Runs `command` (a shell command line or script) and waits for its end
  // marker. After `timeout` the command is interrupted (Ctrl-C, then its
  // process group killed: see the file comment) and the result says
  // timed_out with the output seen so far. `cancelled` (may be null) is
  // polled every kCancelPoll while the command runs; once it returns true
  // the command is interrupted the same way at once and the result says
  // cancelled. UNAVAILABLE when the console closes.
  absl::StatusOr<ShellResult> Run(absl::string_view command,
                                  absl::Duration timeout,
                                  std::function<bool()> cancelled = nullptr);
  static constexpr absl::Duration kCancelPoll = absl::Milliseconds(20);

  // Waits until the shell answers a no-op command: probes every `probe`
  // until `timeout` passes (DEADLINE_EXCEEDED). Used after boot.
  absl::Status WaitReady(absl::Duration timeout,
                         absl::Duration probe = absl::Seconds(1));

 private:
  // `input` is what to type for the nonce (ShellCommandInput or a probe).
  absl::StatusOr<ShellResult> RunLocked(
      const std::function<std::string(const std::string&)>& input,
      absl::Duration timeout, bool interrupt_on_timeout,
      const std::function<bool()>& cancelled = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ConsoleChannel* const channel_;
  NonceFn nonce_;
  absl::Mutex mu_;
};

// Quotes one argument for a POSIX shell ('...' with ' as '\'').
std::string ShellQuote(absl::string_view arg);

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_CONSOLE_SESSION_H_
