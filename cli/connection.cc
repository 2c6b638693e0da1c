#include "cli/connection.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/remotes.h"
#include "common/auth.h"
#include "common/grpc_limits.h"
#include "common/pki/pki.h"
#include "common/transport_security.h"
#include "common/status_macros.h"
#include "deploy/cluster_file.h"
#include "deploy/local_cluster_layout.h"

namespace emu::cli {

std::string DefaultClusterFile() {
  return deploy::ClusterFilePath(deploy::kDefaultStateRoot,
                                 deploy::kDefaultClusterId);
}

absl::StatusOr<ControllerTarget> ResolveControllerTarget(
    const ConnectionFlags& flags, absl::string_view env_cluster) {
  ControllerTarget target;
  target.token_file = flags.token_file;
  if (!flags.controller.empty()) {
    target.address = flags.controller;
    target.origin = "--controller";
  } else {
    std::string path = flags.cluster_file;
    if (path.empty()) path = std::string(env_cluster);
    if (path.empty()) path = DefaultClusterFile();
    absl::StatusOr<deploy::ClusterFile> file = deploy::ReadClusterFile(path);
    if (absl::IsNotFound(file.status())) {
      return absl::NotFoundError(
          absl::StrCat("no emu cluster found: run `emuctl local start` or pass "
                       "--controller (there is no ",
                       path, ")"));
    }
    if (!file.ok()) return file.status();
    if (file->controller.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "the cluster in ", path, " has no controller address (state \"",
          file->state, "\"): is `emuctl local start` still running?"));
    }
    target.address = file->controller;
    target.origin = absl::StrCat("cluster file ", path);
    if (target.token_file.empty()) target.token_file = file->token_file;
    target.pki_dir = file->pki_dir;
    if (flags.ca_file.empty() && !file->pki_dir.empty()) {
      EMU_ASSIGN_OR_RETURN(
          target.ca_pem,
          common::pki::ReadPem(common::pki::ControllerPaths(file->pki_dir)
                                   .ca_cert));
    }
  }
  if (!flags.ca_file.empty()) {
    EMU_ASSIGN_OR_RETURN(target.ca_pem, common::pki::ReadPem(flags.ca_file));
  }
  if (flags.token_file.empty() && !flags.token.empty()) {
    target.token = flags.token;
    target.token_file = "$EMU_TOKEN";
  } else if (!target.token_file.empty()) {
    EMU_ASSIGN_OR_RETURN(target.token, ReadTokenFile(target.token_file));
  }
  return target;
}

namespace {

// A plan for one SSH destination; the target and options from flags win.
absl::StatusOr<SshPlan> MakePlan(absl::string_view destination,
                                 std::string origin,
                                 const ConnectionFlags& flags,
                                 const ConnectionEnv& env,
                                 const Remote* remote) {
  SshPlan plan;
  EMU_ASSIGN_OR_RETURN(plan.destination, ParseSshDestination(destination));
  plan.origin = std::move(origin);
  if (!flags.ssh_target.empty()) {
    plan.target = flags.ssh_target;
  } else if (remote != nullptr && !remote->target.empty()) {
    plan.target = remote->target;
  }
  EMU_RETURN_IF_ERROR(SshForwardTarget(plan.target).status());
  plan.options =
      SplitSshOptions(flags.ssh_opts.empty() ? env.ssh_opts : flags.ssh_opts);
  if (!flags.ssh_token_path.empty()) {
    plan.token_path = flags.ssh_token_path;
  } else if (remote != nullptr) {
    plan.token_path = remote->token_path;
  }
  if (!flags.ssh_ca_path.empty()) {
    plan.ca_path = flags.ssh_ca_path;
  } else if (remote != nullptr) {
    plan.ca_pem = remote->ca_pem;
  }
  return plan;
}

absl::StatusOr<SshPlan> PlanForRemote(absl::string_view name,
                                      absl::string_view how,
                                      const ConnectionFlags& flags,
                                      const ConnectionEnv& env,
                                      const Remotes& remotes) {
  const Remote* remote = FindRemote(remotes, name);
  if (remote == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no remote named '", name, "' in ",
        env.remotes_file.empty() ? std::string("(no remotes file)")
                                 : env.remotes_file,
        ": add it with `emuctl remote add ", name, " [user@]gateway`"));
  }
  return MakePlan(remote->destination,
                  absl::StrCat(how, " ", name, " (", env.remotes_file, ")"),
                  flags, env, remote);
}

absl::StatusOr<Remotes> LoadRemotes(const ConnectionEnv& env) {
  if (env.remotes_file.empty()) return Remotes();
  return ReadRemotes(env.remotes_file);
}

// The plan of a cluster file with an "ssh" gateway: its controller, token
// and CA as seen on the gateway. nullopt for a file without one, and for a
// file that cannot be read (ResolveControllerTarget names the problem).
absl::StatusOr<std::optional<SshPlan>> PlanForClusterFile(
    const std::string& path, const ConnectionFlags& flags,
    const ConnectionEnv& env) {
  absl::StatusOr<deploy::ClusterFile> file = deploy::ReadClusterFile(path);
  if (!file.ok() || file->ssh.empty()) return std::nullopt;
  Remote remote;
  remote.target = file->controller;
  remote.token_path = file->token_file;
  EMU_ASSIGN_OR_RETURN(
      SshPlan plan,
      MakePlan(file->ssh, absl::StrCat("cluster file ", path, " (ssh)"), flags,
               env, &remote));
  if (flags.ssh_ca_path.empty() && !file->pki_dir.empty()) {
    plan.ca_path = common::pki::ControllerPaths(file->pki_dir).ca_cert;
  }
  return plan;
}

}  // namespace

absl::StatusOr<std::optional<SshPlan>> ResolveSshPlan(
    const ConnectionFlags& flags, const ConnectionEnv& env) {
  const bool direct = !flags.controller.empty() || !flags.cluster_file.empty();
  if (!flags.ssh.empty() && !flags.remote.empty()) {
    return absl::InvalidArgumentError("--ssh and --remote: pass one of them");
  }
  if ((!flags.ssh.empty() || !flags.remote.empty()) && direct) {
    return absl::InvalidArgumentError(absl::StrCat(
        flags.ssh.empty() ? "--remote" : "--ssh",
        " cannot be combined with --controller or --cluster (the controller "
        "is reached through the gateway; use --ssh-target for its address "
        "there)"));
  }
  if (!flags.ssh.empty())
    return MakePlan(flags.ssh, "--ssh", flags, env, nullptr);
  if (!flags.remote.empty()) {
    EMU_ASSIGN_OR_RETURN(Remotes remotes, LoadRemotes(env));
    return PlanForRemote(flags.remote, "--remote", flags, env, remotes);
  }
  if (!flags.controller.empty()) return std::nullopt;
  if (!flags.cluster_file.empty()) {
    return PlanForClusterFile(flags.cluster_file, flags, env);
  }
  if (!env.ssh.empty())
    return MakePlan(env.ssh, "$EMU_SSH", flags, env, nullptr);
  if (!env.cluster.empty()) return PlanForClusterFile(env.cluster, flags, env);
  EMU_ASSIGN_OR_RETURN(Remotes remotes, LoadRemotes(env));
  if (remotes.default_name.empty()) return std::nullopt;
  return PlanForRemote(remotes.default_name, "default remote", flags, env,
                       remotes);
}

absl::StatusOr<std::unique_ptr<ControllerConnection>> OpenConnection(
    const ConnectionFlags& flags, const ConnectionEnv& env,
    ProcessLauncher* launcher) {
  EMU_ASSIGN_OR_RETURN(std::optional<SshPlan> plan, ResolveSshPlan(flags, env));
  if (!plan.has_value()) {
    EMU_ASSIGN_OR_RETURN(ControllerTarget target,
                         ResolveControllerTarget(flags, env.cluster));
    return std::make_unique<ControllerConnection>(std::move(target));
  }
  EMU_ASSIGN_OR_RETURN(SshControl control,
                       SshControlFromEnv(env.ssh_persist, env.runtime_dir));
  SshTunnelOptions options;
  options.destination = plan->destination;
  options.target = plan->target;
  options.ssh_options = plan->options;
  options.control = control;
  if (!env.runtime_dir.empty()) options.runtime_dir = env.runtime_dir;
  // Commands on the gateway (token, CA) go through the shared login.
  std::vector<std::string> command_options = plan->options;
  if (!control.dir.empty() &&
      !(plan->token_path.empty() && plan->ca_path.empty())) {
    EMU_RETURN_IF_ERROR(EnsureSshMaster(launcher, plan->destination,
                                        plan->options, control,
                                        options.connect_timeout));
    const std::vector<std::string> mux = SshControlOptions(control);
    command_options.insert(command_options.end(), mux.begin(), mux.end());
  }
  ControllerTarget target;
  if (!flags.ca_file.empty()) {
    EMU_ASSIGN_OR_RETURN(target.ca_pem, common::pki::ReadPem(flags.ca_file));
  } else if (!plan->ca_pem.empty()) {
    target.ca_pem = plan->ca_pem;
  } else if (!plan->ca_path.empty()) {
    EMU_ASSIGN_OR_RETURN(
        target.ca_pem,
        ReadRemoteFile(launcher, plan->destination, command_options,
                       plan->ca_path, "the cluster CA", 256 << 10));
  }
  // The token before the tunnel: a wrong path fails before it is set up.
  if (!flags.token_file.empty()) {
    target.token_file = flags.token_file;
    EMU_ASSIGN_OR_RETURN(target.token, ReadTokenFile(flags.token_file));
  } else if (!flags.token.empty()) {
    target.token = flags.token;
    target.token_file = "$EMU_TOKEN";
  } else if (!plan->token_path.empty()) {
    target.token_file =
        absl::StrCat(plan->token_path, " on ", plan->destination.text);
    EMU_ASSIGN_OR_RETURN(target.token,
                         ReadRemoteToken(launcher, plan->destination,
                                         command_options, plan->token_path));
  }
  EMU_ASSIGN_OR_RETURN(std::unique_ptr<SshTunnel> tunnel,
                       SshTunnel::Open(launcher, options));
  target.address = tunnel->address();
  target.ssh_gateway = tunnel->Describe();
  target.origin = plan->origin;
  return std::make_unique<ControllerConnection>(std::move(target),
                                                std::move(tunnel));
}

std::string DescribeRpcError(const grpc::Status& status, absl::string_view call,
                             const ControllerTarget& target,
                             bool reached_server) {
  const std::string& message = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (reached_server) return absl::StrCat(call, ": ", message);
      return absl::StrCat(
          "cannot reach the emu controller at ", target.address, " (from ",
          target.origin, "): ", message,
          "\nIs the cluster running? Start a local one with `emuctl local "
          "start`, or pass --controller (and --ca-file for a controller "
          "with TLS).");
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat(
          "the controller at ",
          target.ssh_gateway.empty() ? target.address
                                     : absl::StrCat("ssh ", target.ssh_gateway),
          " rejected ",
          target.token.empty()
              ? std::string("the call without a token")
              : absl::StrCat("the token from ", target.token_file),
          ": ", message,
          target.ssh_gateway.empty()
              ? "\nPass the cluster's token, or your user token, with "
                "--token-file or $EMU_TOKEN."
              : "\nPass the cluster's token (or your user token) with "
                "--token-file or $EMU_TOKEN, or its path on "
                "the gateway with --ssh-token-path (a controller started "
                "without --token_file keeps it in `token` beside its --db, "
                "/var/lib/emu/controller/token by default).");
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // A quota refusal is the controller's own message.
      if (!absl::StrContains(message, "larger than max")) {
        return absl::StrCat(call, ": ", message);
      }
      // gRPC says "Received message larger than max (N vs. M)": name emu's
      // limit and where it is set, so the user knows it is deliberate.
      return absl::StrCat(
          call, ": ", message, " (emu limits every message to ",
          MessageLimitText(),
          " both ways: common/grpc_limits.h, docs/building.md)");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat(call, ": the controller at ", target.address,
                          " did not answer in time: ", message);
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return message;
    default:
      return absl::StrCat(
          call, ": ",
          absl::StatusCodeToString(
              static_cast<absl::StatusCode>(status.error_code())),
          ": ", message);
  }
}

namespace {

// TLS checking the controller against the cluster CA when the target has
// one (emuctl presents no certificate: its token identifies the user).
TransportSecurity TransportTo(const ControllerTarget& target) {
  if (target.ca_pem.empty()) return TransportSecurity::Plaintext();
  TransportSecurity t;
  t.ca_pem = target.ca_pem;
  return t;
}

}  // namespace

ControllerConnection::ControllerConnection(ControllerTarget target,
                                           std::unique_ptr<SshTunnel> tunnel)
    : tunnel_(std::move(tunnel)),
      target_(std::move(target)),
      channel_(NewChannel(TransportTo(target_), target_.address,
                          common::pki::kControllerName)),
      stub_(v1::ControllerService::NewStub(channel_)) {}

bool ControllerConnection::Reached() const {
  return channel_->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

std::string ControllerConnection::Describe(const grpc::Status& status,
                                           absl::string_view call) const {
  if (tunnel_ != nullptr &&
      status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // The socket closes when ssh exits, so ssh may not be reaped yet.
    if (!tunnel_->Alive(absl::Seconds(1))) {
      const std::string said = tunnel_->SshMessages();
      return absl::StrCat(
          call, ": the SSH connection to ", tunnel_->destination().text,
          " was lost",
          said.empty() ? std::string() : absl::StrCat(" (ssh: ", said, ")"),
          ": ", status.error_message(),
          "\nCheck the gateway, then run the command again (`emuctl status` "
          "shows what the controller did meanwhile).");
    }
    if (!Reached()) {
      const std::string said = tunnel_->SshMessages();
      return absl::StrCat(
          "cannot reach the emu controller through ssh ", tunnel_->Describe(),
          " (from ", target_.origin, "): ", status.error_message(),
          said.empty() ? std::string() : absl::StrCat(" (ssh: ", said, ")"),
          "\nIs emu-controller listening there? Pass its address on the "
          "gateway with --ssh-target.");
    }
  }
  return DescribeRpcError(status, call, target_, Reached());
}

std::unique_ptr<grpc::ClientContext> ControllerConnection::NewContext(
    absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  AddAuthToken(context.get(), target_.token);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

}  // namespace emu::cli
