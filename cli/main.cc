// emuctl: the command-line client of the emu controller. Thin: gathers the
// process's inputs and hands them to RunEmuctl (cli/emuctl.h).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli/emuctl.h"
#include "cli/remotes.h"

namespace {

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(true);
  std::error_code ec;
  emu::cli::EmuctlIo io;
  io.in = &std::cin;
  io.out = &std::cout;
  io.err = &std::cerr;
  io.env_cluster = Getenv("EMU_CLUSTER");
  io.env_token = Getenv("EMU_TOKEN");
  io.self_exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  io.path_env = Getenv("PATH");
  io.env_ssh = Getenv("EMU_SSH");
  io.env_ssh_opts = Getenv("EMU_SSH_OPTS");
  io.remotes_file =
      emu::cli::RemotesFilePath(Getenv("XDG_CONFIG_HOME"), Getenv("HOME"));
  io.runtime_dir = Getenv("XDG_RUNTIME_DIR");
  io.env_ssh_persist = Getenv("EMU_SSH_PERSIST");
  const std::string term = Getenv("TERM");
  io.color = isatty(STDOUT_FILENO) && term != "dumb" && !term.empty() &&
             std::getenv("NO_COLOR") == nullptr;
  return emu::cli::RunEmuctl(std::vector<std::string>(argv, argv + argc), io);
}
