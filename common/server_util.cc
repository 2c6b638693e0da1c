#include "common/server_util.h"

#include <signal.h>

#include <fstream>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/grpc_limits.h"
#include "common/log.h"
#include "grpcpp/security/server_credentials.h"

namespace emu {

bool IsDaemonFlagFile(absl::string_view file) {
  return !absl::StrContains(file, "absl/flags/");
}

void SetDaemonUsage(absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = &IsDaemonFlagFile;
  config.contains_helpshort_flags = &IsDaemonFlagFile;
  absl::SetFlagsUsageConfig(config);
}

absl::Status CheckListenAddress(const std::string& address) {
  if (absl::StartsWith(address, "unix:")) return absl::OkStatus();
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address '", address,
        "': expected HOST:PORT, e.g. 127.0.0.1:7470"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& address, const std::vector<grpc::Service*>& services,
    const std::string& port_file, int* bound_port) {
  absl::Status valid = CheckListenAddress(address);
  if (!valid.ok()) return valid;
  grpc::ServerBuilder builder;
  // Transport security is left to the network (loopback, the emulated
  // hosts' own bridge, or an SSH tunnel); the bearer token authenticates.
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(),
                           bound_port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (*bound_port == 0 &&
                            !absl::StartsWith(address, "unix:"))) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address,
                     " (address in use, or not an address of this host)"));
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << *bound_port << "\n";
      if (!out) {
        return absl::InternalError(absl::StrCat("write port file ", tmp));
      }
    }
    if (rename(tmp.c_str(), port_file.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("rename ", tmp));
    }
  }
  return server;
}

absl::StatusOr<std::string> LoadServerToken(const std::string& token_file) {
  if (token_file.empty()) {
    Log("warning: no --token_file; accepting unauthenticated calls");
    return std::string();
  }
  return ReadTokenFile(token_file);
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace emu
