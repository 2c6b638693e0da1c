#include "agent/guest/console_session.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"

namespace emu::agent::guest {
namespace {

constexpr size_t kChunk = 512;
constexpr char kCtrlU = '\x15';
constexpr char kCtrlC = '\x03';

std::string RandomNonce() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen;
  absl::MutexLock lock(&mu);
  return absl::StrCat(
      absl::Hex(absl::Uniform<uint64_t>(*gen), absl::kZeroPad16));
}

}  // namespace

std::string ShellQuote(absl::string_view arg) {
  if (!arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
      })) {
    return std::string(arg);
  }
  return absl::StrCat("'", absl::StrReplaceAll(arg, {{"'", "'\\''"}}), "'");
}

std::string ShellCommandInput(absl::string_view nonce,
                              absl::string_view command) {
  std::string b64 = absl::Base64Escape(command);
  std::string f = absl::StrCat("/tmp/.emu_", nonce);
  std::string out(1, kCtrlU);
  absl::StrAppend(&out, ": >", f, ".b64\n");
  for (size_t i = 0; i < b64.size(); i += kChunk) {
    absl::StrAppend(&out, "echo ", b64.substr(i, kChunk), " >>", f, ".b64\n");
  }
  absl::StrAppend(&out, "base64 -d ", f, ".b64 >", f,
                  "; printf '\\n__EMU_%s_S__\\n' ", nonce, "; sh -c 'echo $$ >",
                  f, ".pid; exec sh ", f, "' </dev/null 2>", f, ".err & wait $!; r=$?; ",
                  "printf '\\n__EMU_%s_E__\\n' ", nonce, "; cat ", f, ".err; ",
                  "printf '\\n__EMU_%s_%d__\\n' ", nonce, " $r; rm -f ", f, " ",
                  f, ".b64 ", f, ".err ", f, ".pid\n");
  return out;
}

std::string ShellKillInput(absl::string_view nonce) {
  std::string f = absl::StrCat("/tmp/.emu_", nonce);
  // __emu_k PID: stops PID (so it forks no more), kills its children found
  // in /proc (PPid: in each status file, shell builtins only), then PID.
  // The console's shell often has no job control (no controlling tty), so
  // the command is not its own process group and the group kill after it
  // finds nothing; with job control it also gets what left the tree.
  return absl::StrCat(
      std::string(1, kCtrlU),
      "__emu_k() { local d n v; kill -STOP $1 2>/dev/null; "
      "for d in /proc/[0-9]*; do while read -r n v; do "
      "[ \"$n\" = PPid: ] && { [ \"$v\" = \"$1\" ] && __emu_k ${d#/proc/}; "
      "break; }; done 2>/dev/null <$d/status; done; kill -KILL $1 2>/dev/null; "
      "}; p=$(cat ",
      f, ".pid 2>/dev/null); [ -n \"$p\" ] && { __emu_k $p; kill -KILL -- -$p "
      "2>/dev/null; }; rm -f ",
      f, " ", f, ".b64 ", f, ".err ", f, ".pid\n");
}

std::string ShellProbeInput(absl::string_view nonce) {
  return absl::StrCat(std::string(1, kCtrlU), "printf '\\n__EMU_%s_S__\\n' ",
                      nonce, "; printf '\\n__EMU_%s_E__\\n' ", nonce,
                      "; printf '\\n__EMU_%s_%d__\\n' ", nonce, " 0\n");
}

MarkerParser::MarkerParser(std::string nonce) : nonce_(std::move(nonce)) {}

bool MarkerParser::Feed(absl::string_view bytes) {
  if (done_) return true;
  for (char c : bytes) {
    if (c != '\r') buf_.push_back(c);
  }
  if (!started_) {
    std::string start = absl::StrCat("__EMU_", nonce_, "_S__\n");
    size_t p = buf_.find(start);
    if (p == std::string::npos) {
      // Keep only a tail that could still begin the marker.
      if (buf_.size() > start.size()) buf_.erase(0, buf_.size() - start.size());
      return false;
    }
    buf_.erase(0, p + start.size());
    started_ = true;
  }
  std::string mid = absl::StrCat("\n__EMU_", nonce_, "_E__\n");
  size_t m = buf_.find(mid);
  if (m == std::string::npos) return false;
  std::string end_prefix = absl::StrCat("\n__EMU_", nonce_, "_");
  size_t search = m + mid.size();
  while (true) {
    // stderr is what lies between the E marker and the end marker; the end
    // marker is "\n__EMU_<nonce>_<digits>__".
    size_t e = buf_.find(end_prefix, search);
    if (e == std::string::npos) return false;
    size_t d = e + end_prefix.size();
    size_t q = d;
    while (q < buf_.size() && std::isdigit(static_cast<unsigned char>(buf_[q])))
      ++q;
    if (q + 2 > buf_.size()) return false;  // digits may continue
    int code = 0;
    if (q > d && buf_.compare(q, 2, "__") == 0 &&
        absl::SimpleAtoi(absl::string_view(buf_).substr(d, q - d), &code)) {
      result_.exit_code = code;
      result_.stdout_data = buf_.substr(0, m);
      std::string err = buf_.substr(m + mid.size(), e - (m + mid.size()));
      result_.stderr_data = std::move(err);
      done_ = true;
      return true;
    }
    search = e + 2;
  }
}

std::string MarkerParser::partial_stdout() const {
  return started_ ? buf_ : "";
}

ShellSession::ShellSession(ConsoleChannel* channel, NonceFn nonce)
    : channel_(channel), nonce_(nonce ? std::move(nonce) : RandomNonce) {}

absl::StatusOr<ShellResult> ShellSession::Run(absl::string_view command,
                                              absl::Duration timeout,
                                              std::function<bool()> cancelled) {
  absl::MutexLock lock(&mu_);
  return RunLocked(
      [command](const std::string& nonce) {
        return ShellCommandInput(nonce, command);
      },
      timeout, /*interrupt_on_timeout=*/true, cancelled);
}

absl::StatusOr<ShellResult> ShellSession::RunLocked(
    const std::function<std::string(const std::string&)>& input,
    absl::Duration timeout, bool interrupt_on_timeout,
    const std::function<bool()>& cancelled) {
  // Stray output while no command ran: drop it.
  while (true) {
    auto stray = channel_->Read(absl::ZeroDuration());
    if (!stray.ok()) return stray.status();
    if (stray->empty()) break;
  }
  std::string nonce = nonce_();
  MarkerParser parser(nonce);
  if (absl::Status s = channel_->Write(input(nonce)); !s.ok()) {
    return s;
  }
  absl::Time deadline = absl::Now() + timeout;
  const absl::Duration poll =
      cancelled ? kCancelPoll : absl::Milliseconds(200);
  while (!parser.done()) {
    absl::Duration left = deadline - absl::Now();
    const bool cancel = cancelled && cancelled();
    if (left <= absl::ZeroDuration() || cancel) {
      if (interrupt_on_timeout || cancel) {
        // SIGINT to the command's group, then SIGKILL to it by its pid.
        (void)channel_->Write(
            absl::StrCat(std::string(1, kCtrlC), ShellKillInput(nonce)));
      }
      ShellResult r;
      r.timed_out = !cancel;
      r.cancelled = cancel;
      r.exit_code = 130;
      r.stdout_data = parser.partial_stdout();
      return r;
    }
    auto bytes = channel_->Read(std::min(left, poll));
    if (!bytes.ok()) return bytes.status();
    parser.Feed(*bytes);
  }
  return parser.result();
}

absl::Status ShellSession::WaitReady(absl::Duration timeout,
                                     absl::Duration probe) {
  absl::MutexLock lock(&mu_);
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::Duration left = deadline - absl::Now();
    auto r = RunLocked(ShellProbeInput, std::min(probe, left),
                       /*interrupt_on_timeout=*/false);
    if (!r.ok()) return r.status();
    if (!r->timed_out && r->exit_code == 0) return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the guest's shell did not answer on its console within ",
                   absl::FormatDuration(timeout)));
}

}  // namespace emu::agent::guest
