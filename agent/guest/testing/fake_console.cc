#include "agent/guest/testing/fake_console.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace emu::agent::guest {

FakeConsole::FakeConsole(unsigned seed, size_t max_chunk)
    : rng_(seed), max_chunk_(max_chunk) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    // Commands under test write /tmp/.emu_* files: Close removes them.
    execl("/bin/sh", "sh", "-i", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid_, pid_);
  close(in[0]);
  close(out[1]);
  in_fd_ = in[1];
  out_fd_ = out[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);
}

FakeConsole::~FakeConsole() { Close(); }

void FakeConsole::Close() {
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (in_fd_ >= 0) close(in_fd_);
  in_fd_ = -1;
  for (const std::string& f : files_) {
    for (const char* suffix : {"", ".b64", ".err", ".pid"}) {
      unlink(absl::StrCat(f, suffix).c_str());
    }
  }
  files_.clear();
}

absl::Status FakeConsole::Write(absl::string_view bytes) {
  stray_ += armed_;
  armed_.clear();
  std::string data;
  for (char c : bytes) {
    if (c == '\x15') continue;
    if (c == '\x03') {
      if (pid_ > 0) kill(-pid_, SIGINT);
      continue;
    }
    data.push_back(c);
  }
  const std::string kFile = "/tmp/.emu_";
  for (size_t at = data.find(kFile); at != std::string::npos;
       at = data.find(kFile, at + kFile.size())) {
    size_t end = at + kFile.size();
    while (end < data.size() && std::isxdigit(static_cast<unsigned char>(data[end]))) ++end;
    if (end > at + kFile.size()) files_.insert(data.substr(at, end - at));
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(in_fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("fake console write: errno ", errno));
    }
    off += n;
  }
  return absl::OkStatus();
}

void FakeConsole::Pump(absl::Duration timeout) {
  if (out_fd_ < 0 || eof_) return;
  pollfd p{out_fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0)
    return;
  char buf[4096];
  ssize_t n = read(out_fd_, buf, sizeof(buf));
  if (n == 0) {
    eof_ = true;
    return;
  }
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] == '\n') pending_.push_back('\r');  // the tty's onlcr
    pending_.push_back(buf[i]);
  }
}

absl::StatusOr<std::string> FakeConsole::Read(absl::Duration timeout) {
  if (pending_.empty() && stray_.empty()) Pump(timeout);
  Pump(absl::ZeroDuration());
  if (pending_.empty() && stray_.empty()) {
    if (eof_ || pid_ < 0) return absl::UnavailableError("fake console closed");
    return std::string();
  }
  // Stray output first, in random chunks, then the shell's.
  std::string& from = stray_.empty() ? pending_ : stray_;
  size_t n = std::min(from.size(), 1 + rng_() % max_chunk_);
  std::string out = from.substr(0, n);
  from.erase(0, n);
  return out;
}

}  // namespace emu::agent::guest
