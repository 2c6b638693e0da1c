// emu-controller: parses flags, opens the lab store, connects to the agents,
// finishes interrupted work, serves ControllerService, and keeps a heartbeat
// on every agent.
#include <atomic>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/notification.h"
#include "common/auth.h"
#include "common/http/http_server.h"
#include "common/http/request_auth.h"
#include "common/metrics/metrics.h"
#include "common/metrics/metrics_endpoint.h"
#include "common/metrics/rpc_metrics.h"
#include "common/process_launcher.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/web/graph_svg.h"
#include "controller/web/web_source.h"
#include "controller/web/web_view.h"
#include "common/log.h"
#include "common/server_util.h"
#include "common/transport_security.h"
#include "common/thread_pool.h"
#include "controller/hosts/agent_client.h"
#include "controller/controller_service.h"
#include "controller/guest/guest_agents.h"
#include "controller/hosts/host_registry.h"
#include "controller/lab/lab_manager.h"
#include "controller/experiment/experiment_service.h"
#include "controller/experiment/experiment_store.h"
#include "controller/lab/lab_store.h"
#include "controller/hosts/registration_service.h"
#include "controller/users/user_directory.h"
#include "controller/users/user_service.h"
#include "controller/users/user_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7470",
          "Address to serve ControllerService on: HOST:PORT (loopback by "
          "default) or unix:/run/emu/controller.sock (a socket of mode 0660, "
          "group emu if it exists; parent directory created), e.g. for "
          "`emuctl --ssh` through a gateway.");
ABSL_FLAG(std::string, agents, "",
          "The physical hosts: NAME=HOST:PORT,... of their agents. Agents "
          "started with --controller register themselves instead.");
ABSL_FLAG(std::string, db, "/var/lib/emu/controller/labs.db",
          "SQLite file keeping every lab's state, the users (token hashes "
          "only), their quotas and shares across restarts.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the cluster's bearer token (mode 0600); used for "
          "callers and for the agents. Without it the controller uses (or "
          "generates, mode 0600) the file `token` beside --db, "
          "/var/lib/emu/controller/token by default; it never serves "
          "unauthenticated calls.");
ABSL_FLAG(std::string, port_file, "",
          "Write the bound port here once serving (for --listen=...:0).");
ABSL_FLAG(absl::Duration, heartbeat, absl::Seconds(2),
          "How often every agent is asked for its capabilities (an agent "
          "that does not answer within this time counts as unreachable), and "
          "how often registered agents are told to re-register.");
ABSL_FLAG(std::string, pki_dir, "/etc/emu/pki",
          "The cluster's certificates (docs/security.md): ca.crt, "
          "controller.crt and controller.key (mode 0600), from `emuctl "
          "cluster init`. Agents are called and accepted over mutual TLS.");
ABSL_FLAG(bool, insecure_plaintext, false,
          "No TLS: serve and dial the agents in plain text. Only on a network "
          "you trust completely (the agents must run with it too).");
ABSL_FLAG(int, threads, 16, "Worker threads for blocking calls.");
ABSL_FLAG(std::string, metrics, "",
          "Serve Prometheus metrics at http://ADDR/metrics (IPV4:PORT, e.g. "
          "127.0.0.1:9470; port 0 picks one). Empty: nothing listens. "
          "Callers send an administrator's token as \"Authorization: Bearer "
          "TOKEN\" (docs/observability.md).");
ABSL_FLAG(std::string, metrics_port_file, "",
          "Write the bound --metrics port here (for --metrics=...:0).");
ABSL_FLAG(int, metrics_max_links_per_lab, 1000,
          "Per-link series of at most this many links of each lab in "
          "--metrics (14 series a link); the rest are counted in "
          "emu_link_series_omitted{lab}.");
ABSL_FLAG(bool, metrics_unauthenticated, false,
          "Serve --metrics without a token: only where every process that "
          "can reach the address may see every user's lab names "
          "(docs/security.md).");
ABSL_FLAG(std::string, web, "",
          "Serve the read-only web view at http://ADDR/ (IPV4:PORT, e.g. "
          "127.0.0.1:9480; port 0 picks one). Empty: nothing listens. Users "
          "log in with their emu token (docs/observability.md).");
ABSL_FLAG(std::string, web_port_file, "",
          "Write the bound --web port here (for --web=...:0).");

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "emu-controller: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  emu::SetDaemonUsage(
      "deploys labs onto the agents.\n"
      "  emu-controller --agents=h1=127.0.0.1:7471 "
      "--token_file=/etc/emu/token");
  absl::ParseCommandLine(argc, argv);
  emu::BlockTerminationSignals();

  // Secure by default (issue 9): no token file means a generated one in the
  // controller's state directory (where --db lives), never anonymous calls.
  const std::string db = absl::GetFlag(FLAGS_db);
  const size_t slash = db.rfind('/');
  const std::string state_dir =
      slash == std::string::npos ? "." : db.substr(0, slash);
  auto token = emu::LoadServerToken(absl::GetFlag(FLAGS_token_file),
                                    state_dir + "/token");
  if (!token.ok()) return Fail(token.status().ToString());
  auto transport = emu::LoadDaemonTransport(
      absl::GetFlag(FLAGS_pki_dir), emu::common::pki::Role::kController, "",
      absl::GetFlag(FLAGS_insecure_plaintext));
  if (!transport.ok()) return Fail(transport.status().ToString());
  if (transport->plaintext) {
    emu::Log("--insecure_plaintext: NO TLS to the agents and callers");
  }
  auto agents = emu::controller::hosts::ParseAgentList(absl::GetFlag(FLAGS_agents));
  if (!agents.ok()) return Fail(agents.status().ToString());
  if (agents->empty()) {
    emu::Log("no --agents: waiting for agents to register (emu-agent "
             "--controller=...)");
  }

  auto store = emu::controller::lab::SqliteLabStore::Open(absl::GetFlag(FLAGS_db));
  if (!store.ok()) return Fail(store.status().ToString());

  emu::controller::hosts::HostRegistry hosts;
  for (const auto& [name, address] : *agents) {
    auto s = hosts.Add(name, address,
                       std::make_unique<emu::controller::hosts::GrpcAgentClient>(
                           name, address, *token, *transport));
    if (!s.ok()) return Fail(s.ToString());
  }
  hosts.Refresh(absl::Seconds(3));
  for (const auto& h : hosts.Snapshot()) {
    emu::Log("host ", h.name(), " at ", h.address(), ": ",
             h.reachable() ? "reachable" : "UNREACHABLE: " + h.error());
  }
  emu::controller::lab::LabManager labs(store->get(), &hosts);
  auto log = [](const std::string& line) { emu::Log(line); };
  labs.Reconcile(log);

  // Users: the cluster token is the built-in administrator; user tokens
  // (emuctl user add) are checked against their hashes in the same db.
  auto user_store =
      emu::controller::users::SqliteUserStore::Open(absl::GetFlag(FLAGS_db));
  if (!user_store.ok()) return Fail(user_store.status().ToString());
  emu::controller::users::UserDirectory users(user_store->get(), *token);

  emu::ThreadPool pool(absl::GetFlag(FLAGS_threads));
  // Guests' consoles and restarts are relayed to their agents with the
  // controller's own certificate and the cluster token.
  emu::controller::guest::GrpcGuestAgents guests(&hosts, *token, *transport);
  emu::controller::ControllerServiceImpl service(&labs, &hosts, &users,
                                                 &guests, &pool);
  emu::controller::users::UserServiceImpl user_service(
      &users, [&labs] { return labs.List(); }, &pool);
  emu::controller::hosts::RegistrationServiceImpl registration(
      &hosts, *token, &pool,
      [token = *token, transport = *transport](const std::string& name,
                                               const std::string& address) {
        return std::make_unique<emu::controller::hosts::GrpcAgentClient>(
            name, address, token, transport);
      },
      absl::GetFlag(FLAGS_heartbeat), log);
  // Experiments: a run still RUNNING in the db was cut by a restart; those
  // with a checkpoint are taken up again (docs/experiments.md).
  auto runs = emu::controller::experiment::SqliteExperimentStore::Open(
      absl::GetFlag(FLAGS_db));
  if (!runs.ok()) return Fail(runs.status().ToString());
  auto cut = (*runs)->FailRunning(
      "the controller restarted during the run, which had no checkpoint to "
      "resume from");
  if (cut.ok() && *cut > 0) emu::Log(*cut, " experiment runs ended as FAILED");
  emu::controller::experiment::ExperimentServiceImpl experiments(
      &labs, &hosts, runs->get(), &users, *token, *transport, &pool);
  // Prometheus metrics (opt-in, docs/observability.md): RPC latencies from
  // every call, barrier timing as Tasks end, the rest read at scrape time.
  // Per-link counters: every running lab's, merged as emuctl stats shows.
  emu::metrics::Registry metrics;
  emu::metrics::RpcMetrics rpc_metrics(&metrics);
  emu::controller::metrics::ExperimentMetrics experiment_metrics(&metrics);
  const bool metrics_on = !absl::GetFlag(FLAGS_metrics).empty();
  if (metrics_on) {
    emu::controller::metrics::Sources sources;
    sources.labs = [&labs] { return labs.List(); };
    sources.hosts = [&hosts] { return hosts.Snapshot(); };
    sources.runs = [store = runs->get()] { return store->List(); };
    sources.stats = [&labs](const std::string& key) { return labs.Stats(key); };
    sources.max_links_per_lab = absl::GetFlag(FLAGS_metrics_max_links_per_lab);
    emu::controller::metrics::AddControllerCollectors(&metrics,
                                                      std::move(sources));
    experiments.SetTaskObserver(
        [&experiment_metrics](const emu::v1::TaskResult& task,
                              const emu::v1::TaskResult* previous) {
          experiment_metrics.ObserveTask(task, previous);
        });
  }
  if (int resumed = experiments.ResumeRuns(); resumed > 0) {
    emu::Log(resumed, " experiment runs resumed");
  }
  std::vector<std::unique_ptr<
      grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  if (metrics_on) interceptors.push_back(rpc_metrics.InterceptorFactory());
  int port = 0;
  auto server = emu::StartServer(
      absl::GetFlag(FLAGS_listen),
      {&service, &registration, &experiments, &user_service}, *transport,
      absl::GetFlag(FLAGS_port_file), &port, std::move(interceptors));
  if (!server.ok()) return Fail(server.status().ToString());
  const emu::http::Identify identify = [&users](absl::string_view token) {
    return users.Identify(token);
  };
  std::unique_ptr<emu::http::Server> metrics_server;
  if (metrics_on) {
    auto m = emu::metrics::StartMetricsServer(
        absl::GetFlag(FLAGS_metrics), absl::GetFlag(FLAGS_metrics_port_file),
        &metrics,
        absl::GetFlag(FLAGS_metrics_unauthenticated) ? emu::http::Identify()
                                                     : identify);
    if (!m.ok()) return Fail(m.status().ToString());
    metrics_server = *std::move(m);
    emu::Log("metrics: ",
             emu::http::ServedUrl(absl::GetFlag(FLAGS_metrics),
                                  metrics_server->port(), "/metrics"),
             absl::GetFlag(FLAGS_metrics_unauthenticated)
                 ? " (NO token asked: --metrics_unauthenticated)"
                 : " (an administrator's token required)");
  }
  // The web view (opt-in): read-only pages for each user's own token.
  emu::PosixProcessLauncher launcher;
  emu::controller::web::GraphvizSvgRenderer svg(&launcher);
  emu::controller::web::ControllerWebSource web_source(&labs, &users,
                                                       &experiments);
  std::unique_ptr<emu::http::Server> web_server;
  if (!absl::GetFlag(FLAGS_web).empty()) {
    emu::http::Server::Options options;
    options.address = absl::GetFlag(FLAGS_web);
    options.port_file = absl::GetFlag(FLAGS_web_port_file);
    options.name = "--web";
    auto w = emu::http::Server::Start(
        options, emu::controller::web::WebRoutes(&web_source, &svg));
    if (!w.ok()) return Fail(w.status().ToString());
    web_server = *std::move(w);
    emu::Log("web view: ",
             emu::http::ServedUrl(absl::GetFlag(FLAGS_web), web_server->port(),
                                  "/"),
             " (log in with an emu token)");
  }
  emu::Log("emu-controller serving on ", absl::GetFlag(FLAGS_listen),
           " (port ", port, "), ", agents->size(), " hosts, db ",
           absl::GetFlag(FLAGS_db));

  absl::Notification stop;
  std::thread heartbeat([&] {
    std::map<std::string, bool> was;
    std::set<std::string> resync;  // hosts whose labs need re-pushing
    while (!stop.WaitForNotificationWithTimeout(
        absl::GetFlag(FLAGS_heartbeat))) {
      hosts.Refresh(absl::GetFlag(FLAGS_heartbeat));
      for (const auto& h : hosts.Snapshot()) {
        auto it = was.find(h.name());
        if (it == was.end() || it->second != h.reachable()) {
          emu::Log("host ", h.name(), ": ",
                   h.reachable() ? "reachable" : "UNREACHABLE: " + h.error());
        }
        was[h.name()] = h.reachable();
      }
      for (const std::string& h : hosts.TakeReturnedHosts()) {
        resync.insert(h);
      }
      for (auto it = resync.begin(); it != resync.end();) {
        bool done = !hosts.Reachable(*it) ? false : labs.ResyncHost(*it, log);
        it = done ? resync.erase(it) : std::next(it);
      }
      labs.Reconcile(log);
    }
  });
  int sig = emu::WaitForTerminationSignal();
  emu::Log("signal ", sig, ": shutting down (labs stay in ",
           absl::GetFlag(FLAGS_db), ")");
  stop.Notify();
  heartbeat.join();
  web_server.reset();
  metrics_server.reset();
  // Runs end (cancelled) while their streams can still tell the clients.
  experiments.Shutdown();
  (*server)->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  return 0;
}
