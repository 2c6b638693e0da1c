// FakeConsole: a ConsoleChannel whose far end is a real interactive POSIX
// shell (/bin/sh -i on pipes) behaving like a guest's serial console: output
// comes back in small chunks of random size with "\r\n" line ends, and
// tests inject stray output (boot messages, prompts) between chunks.
// Ctrl-U is dropped (a pipe has no line discipline) and Ctrl-C sends SIGINT
// to the shell's process group.
//
// Thread-compatible. testonly.
#ifndef EMU_AGENT_GUEST_TESTING_FAKE_CONSOLE_H_
#define EMU_AGENT_GUEST_TESTING_FAKE_CONSOLE_H_

#include <sys/types.h>

#include <random>
#include <set>
#include <string>

#include "agent/guest/console_session.h"

namespace emu::agent::guest {

class FakeConsole : public ConsoleChannel {
 public:
  // Starts the shell; `seed` fixes the chunking; `max_chunk` bytes at most
  // per Read.
  explicit FakeConsole(unsigned seed = 1, size_t max_chunk = 7);
  ~FakeConsole() override;

  absl::Status Write(absl::string_view bytes) override;
  absl::StatusOr<std::string> Read(absl::Duration timeout) override;

  // Queues bytes that arrive right after the next Write (a command being
  // typed), in chunks, before the shell's own answer: boot messages, a
  // prompt, a marker of another command.
  void InjectStray(absl::string_view bytes) {
    armed_.append(bytes.data(), bytes.size());
  }
  // Ends the shell: later Reads fail with UNAVAILABLE once drained.
  void Close();

 private:
  void Pump(absl::Duration timeout);

  pid_t pid_ = -1;
  int in_fd_ = -1;   // shell's stdin
  int out_fd_ = -1;  // shell's stdout+stderr
  bool eof_ = false;
  // /tmp/.emu_<nonce> files the commands written here create on this host
  // (the protocol's, console_session.h); removed by Close, also when a
  // command was killed before its own `rm`.
  std::set<std::string> files_;
  std::string pending_;  // shell output not yet returned
  std::string armed_;    // stray output released by the next Write
  std::string stray_;
  std::mt19937 rng_;
  size_t max_chunk_;
};

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_TESTING_FAKE_CONSOLE_H_
