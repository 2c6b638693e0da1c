// emuctl end to end against an in-process fake controller on loopback:
// argument parsing, what each verb sends, what it prints and its exit status.
#include "cli/emuctl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/remotes.h"
#include "cli/testing/fake_controller_service.h"
#include "common/testing/fake_process_launcher.h"
#include "deploy/cluster_file.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

template <typename T>
T Parse(const std::string& text) {
  T msg;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &msg)) << text;
  return msg;
}

struct Result {
  int code;
  std::string out;
  std::string err;
};

class EmuctlTest : public ::testing::Test {
 protected:
  EmuctlTest() : service_("tok123") {
    dir_ = (fs::path(::testing::TempDir()) /
            absl::StrCat("emuctl_test_", getpid(), "_", counter_++))
               .lexically_normal()
               .string();
    fs::create_directories(dir_);
    token_file_ = dir_ + "/token";
    std::ofstream(token_file_) << "tok123\n";
    chmod(token_file_.c_str(), 0600);
    address_ = service_.Start();
    deploy::ClusterFile f;
    f.state = deploy::kClusterStateRunning;
    f.controller = address_;
    f.token_file = token_file_;
    cluster_file_ = dir_ + "/cluster.json";
    EXPECT_TRUE(deploy::WriteClusterFile(cluster_file_, f).ok());
    topology_file_ = dir_ + "/demo.yaml";
    std::ofstream(topology_file_) << "name: demo\n";
  }
  ~EmuctlTest() override { fs::remove_all(dir_); }

  // Runs emuctl with the cluster file in $EMU_CLUSTER.
  Result Run(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), "emuctl");
    std::istringstream in(stdin_data);
    std::ostringstream out, err;
    EmuctlIo io{&in, &out, &err, cluster_file_, "/nonexistent/emuctl", "", false};
    int code = RunEmuctl(args, io);
    return {code, out.str(), err.str()};
  }

  static inline int counter_ = 0;
  FakeControllerService service_;
  std::string dir_, token_file_, cluster_file_, topology_file_, address_;
};

// remote add/ls/default/rm, and every verb going through the default
// remote: here the gateway refuses, so the verb fails naming it, before any
// tunnel and without touching the local controller.
TEST_F(EmuctlTest, RemotesAndTheDefaultRemote) {
  FakeProcessLauncher launcher;
  const std::string remotes = dir_ + "/config/emu/remotes.json";
  auto run = [&](std::vector<std::string> args, const std::string& cluster) {
    args.insert(args.begin(), "emuctl");
    std::istringstream in;
    std::ostringstream out, err;
    EmuctlIo io{&in, &out, &err, cluster, "/nonexistent/emuctl", "", false};
    io.remotes_file = remotes;
    io.launcher = &launcher;
    int code = RunEmuctl(args, io);
    return Result{code, out.str(), err.str()};
  };
  // The cluster CA is read over SSH and kept with the entry; a gateway
  // without it fails the add, naming the path.
  Result noca = run({"remote", "add", "gw", "admin@gw.example:2222"}, "");
  EXPECT_EQ(noca.code, 1);
  EXPECT_THAT(noca.err, HasSubstr("cannot read the cluster CA "
                                  "/etc/emu/pki/ca.crt on "
                                  "admin@gw.example:2222"));
  EXPECT_THAT(noca.err, HasSubstr("--insecure-plaintext"));
  launcher.QueueResult(FakeProcessLauncher::Exited(
      0, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
  EXPECT_EQ(run({"remote", "add", "tls", "admin@gw.example:2222", "--ca-path",
                 "/etc/ca.crt"},
                "")
                .code,
            0);
  EXPECT_EQ(launcher.runs().back().argv.back(), "cat -- '/etc/ca.crt'");
  EXPECT_EQ(run({"remote", "rm", "tls"}, "").code, 0);
  const size_t before = launcher.runs().size();
  EXPECT_EQ(run({"remote", "add", "gw", "admin@gw.example:2222", "--target",
                 "unix:/run/emu/controller.sock", "--token-path", "/t",
                 "--insecure-plaintext"},
                "")
                .code,
            0);
  EXPECT_EQ(launcher.runs().size(), before);  // no CA to read
  Result dup = run({"remote", "add", "gw", "x"}, "");
  EXPECT_EQ(dup.code, 1);
  EXPECT_THAT(dup.err, HasSubstr("remote gw exists"));
  // A destination that ssh would read as an option never gets stored: CLI11
  // takes it for a flag (usage error), and `--` past that is refused too.
  EXPECT_EQ(run({"remote", "add", "bad", "-oProxyCommand=x"}, "").code, 2);
  EXPECT_EQ(run({"remote", "add", "bad", "--", "-oProxyCommand=x"}, "").code,
            1);
  EXPECT_EQ(run({"remote", "default", "nosuch"}, "").code, 1);
  EXPECT_EQ(run({"remote", "default", "gw"}, "").code, 0);
  Result ls = run({"remote", "ls"}, "");
  EXPECT_THAT(ls.out, HasSubstr("admin@gw.example:2222"));
  EXPECT_THAT(ls.out, HasSubstr("unix:/run/emu/controller.sock"));
  EXPECT_THAT(ls.out, HasSubstr("yes"));

  launcher.QueueResult(FakeProcessLauncher::Exited(
      255, "", "ssh: Could not resolve hostname gw.example\n"));
  Result status = run({"status"}, "");
  EXPECT_EQ(status.code, 1);
  EXPECT_THAT(status.err, HasSubstr("/t on admin@gw.example:2222"));
  EXPECT_THAT(status.err, HasSubstr("Could not resolve hostname"));
  ASSERT_EQ(launcher.runs().size(), before + 1);
  EXPECT_THAT(launcher.runs()[before].argv,
              ElementsAre("ssh", "-p", "2222", "admin@gw.example", "--",
                          "cat -- '/t'"));
  // $EMU_CLUSTER beats the default remote: the local fake answers.
  EXPECT_EQ(run({"hosts"}, cluster_file_).code, 0);
  EXPECT_EQ(launcher.runs().size(), before + 1);

  EXPECT_EQ(run({"remote", "rm", "gw"}, "").code, 0);
  absl::StatusOr<Remotes> left = ReadRemotes(remotes);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->entries.empty());
  EXPECT_EQ(left->default_name, "");  // removing the default clears it
  EXPECT_EQ(run({"remote", "rm", "gw"}, "").code, 1);
  EXPECT_TRUE(launcher.spawns().empty());
}

TEST_F(EmuctlTest, UsageErrorsExit2AndHelpExits0) {
  EXPECT_EQ(Run({}).code, 2);
  EXPECT_EQ(Run({"up"}).code, 2);  // FILE missing
  EXPECT_EQ(Run({"exec", "lab", "node"}).code, 2);  // no command
  EXPECT_EQ(Run({"exec", "lab", "node", "ls", "-l"}).code, 2);  // -l without --
  Result help = Run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("Exit status:"));
  EXPECT_THAT(help.out, HasSubstr("124  exec: the command timed out"));
  // Examples name files that exist (examples/two-nodes.yaml never did).
  EXPECT_THAT(help.out, Not(HasSubstr("two-nodes")));
  EXPECT_THAT(help.out, HasSubstr("emuctl up examples/quickstart.yaml"));
  EXPECT_THAT(Run({"validate", "--help"}).out,
              HasSubstr("emuctl validate examples/quickstart.yaml"));
  for (const char* verb :
       {"up", "apply", "validate", "status", "exec", "down", "hosts"}) {
    Result r = Run({verb, "--help"});
    EXPECT_EQ(r.code, 0) << verb;
    EXPECT_THAT(r.out, HasSubstr("Examples:")) << verb;
  }
  for (const char* verb : {"start", "stop", "status"}) {
    Result r = Run({"local", verb, "--help"});
    EXPECT_EQ(r.code, 0) << verb;
    EXPECT_THAT(r.out, HasSubstr("Examples:")) << verb;
  }
  EXPECT_TRUE(service_.calls().empty());
}

TEST_F(EmuctlTest, HelpExamplesNameFilesThatExist) {
  // The test runs in the runfiles tree, where //examples:files lies at
  // examples/ as in the repository.
  std::vector<std::vector<std::string>> helps = {{"--help"}};
  for (const char* verb : {"up", "validate", "plan", "status", "exec", "down",
                           "hosts", "run", "console", "restart"}) {
    helps.push_back({verb, "--help"});
  }
  int seen = 0;
  for (const auto& args : helps) {
    const std::string out = Run(args).out;
    for (absl::string_view word : absl::StrSplit(out, absl::ByAnyChar(" \n"))) {
      if (!absl::StartsWith(word, "examples/")) continue;
      ++seen;
      EXPECT_TRUE(fs::exists(std::string(word)))
          << "`emuctl " << absl::StrJoin(args, " ") << "` names " << word;
    }
  }
  EXPECT_GT(seen, 2);
}

// cluster add/remove refuse bad input before any ssh runs, naming it.
TEST_F(EmuctlTest, ClusterAddAndRemoveRefuseBadInputBeforeSsh) {
  Result r = Run({"cluster", "add", "--", "-oProxyCommand=x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("SSH destination '-oProxyCommand=x'"));
  r = Run({"cluster", "add", "root@h2", "--name", "bad/name"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("bad/name"));
  r = Run({"cluster", "add", "root@h2", "--service", "upstart"});
  EXPECT_THAT(r.err, HasSubstr("--service 'upstart'"));
  r = Run({"cluster", "add", "root@h2", "--prefix", "/x", "--service",
           "systemd"});
  EXPECT_THAT(r.err, HasSubstr("--service=process"));
  // The test's cluster file has no pki_dir: no CA to issue from.
  r = Run({"cluster", "add", "root@h2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no cluster CA: give --pki-dir"));
  r = Run({"cluster", "remove", "h9", "--state-dir", dir_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no record of this host in " + dir_ + "/h9.json"));
}

TEST_F(EmuctlTest, LocalStartOnTheSshCarrierNeedsTheUsersSshSetup) {
  Result r = Run({"local", "start", "--tunnel-carrier", "ssh"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("the local cluster starts no sshd"));
  EXPECT_THAT(r.err, HasSubstr("--tunnel-ssh-config FILE"));
  EXPECT_THAT(r.err, HasSubstr("--tunnel-carrier tls"));
}

TEST_F(EmuctlTest, NoClusterFoundIsAClearError) {
  Result r = Run({"--cluster", dir_ + "/none.json", "status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "emuctl: no emu cluster found: run `emuctl local start` or pass "
            "--controller (there is no " + dir_ + "/none.json)\n");
}

TEST_F(EmuctlTest, UnreachableControllerNamesAddressAndHint) {
  // Port 1 on loopback: nothing listens there.
  Result r = Run({"--controller", "127.0.0.1:1", "status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("emuctl: cannot reach the emu controller at "
                               "127.0.0.1:1 (from --controller)"));
  EXPECT_THAT(r.err, HasSubstr("emuctl local start"));
}

TEST_F(EmuctlTest, WrongTokenIsRejected) {
  const std::string wrong = dir_ + "/wrong";
  std::ofstream(wrong) << "nope\n";
  chmod(wrong.c_str(), 0600);
  Result r = Run({"hosts", "--token-file", wrong});  // flag after the verb
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("rejected the token from " + wrong));
}

TEST_F(EmuctlTest, UpValidatesDeploysAndSummarises) {
  FakeControllerService::Script script;
  script.validate_response = Parse<v1::ValidateTopologyResponse>(R"pb(
    valid: true
    lab: "demo"
    nodes: 2
    links: 1
    warnings: "demo.yaml:4: node r1: image ignored for netns")pb");
  script.deploy_events = {
      Parse<v1::DeployEvent>(R"pb(message: "placing" state: DEPLOYING)pb"),
      Parse<v1::DeployEvent>(R"pb(host: "h1" message: "created node r1"
                                  warnings: "demo.yaml:4: node r1: image ignored for netns")pb"),
      Parse<v1::DeployEvent>(R"pb(message: "done" state: RUNNING)pb"),
  };
  service_.SetScript(script);
  Result r = Run({"up", topology_file_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(service_.calls(), ElementsAre("ValidateTopology", "DeployLab"));
  EXPECT_EQ(service_.last_deploy().source().file().name(), topology_file_);
  EXPECT_EQ(service_.last_deploy().source().file().content(), "name: demo\n");
  EXPECT_THAT(r.out, HasSubstr("s] WARNING: demo.yaml:4: node r1: image ignored"));
  EXPECT_THAT(r.out, HasSubstr("s] deploying lab demo (2 nodes, 1 links)"));
  EXPECT_THAT(r.out, HasSubstr("s] h1: created node r1\n"));
  EXPECT_THAT(r.out, HasSubstr("s] lab is RUNNING\n"));
  EXPECT_THAT(r.out, HasSubstr("lab demo is RUNNING: 2 nodes, 1 links, "));
  EXPECT_THAT(r.out, HasSubstr(", 1 warning\n"));
  // The warning repeated by the deploy stream is shown once.
  std::vector<std::string> lines = absl::StrSplit(r.out, "WARNING");
  EXPECT_EQ(lines.size(), 2u) << r.out;
}

TEST_F(EmuctlTest, ApplyPrintsTheDifferenceAndDryRunOnlyThat) {
  FakeControllerService::Script script;
  script.apply_events = {
      Parse<v1::DeployEvent>(R"pb(message: "lab demo: 2 changes"
                                  state: RUNNING
                                  changes: "+ node r3 (host h2)"
                                  changes: "- link r1:eth2<->r2:eth2")pb"),
      Parse<v1::DeployEvent>(R"pb(host: "h2" message: "created node r3"
                                  state: RUNNING)pb"),
  };
  service_.SetScript(script);
  Result r = Run({"apply", "--dry-run", topology_file_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(service_.last_apply().dry_run());
  EXPECT_EQ(service_.last_apply().source().file().name(), topology_file_);
  EXPECT_EQ(r.out,
            "+ node r3 (host h2)\n- link r1:eth2<->r2:eth2\n"
            "dry run: nothing was changed\n");

  r = Run({"apply", topology_file_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(service_.last_apply().dry_run());
  EXPECT_THAT(r.out, HasSubstr("+ node r3 (host h2)\n"));
  EXPECT_THAT(r.out, HasSubstr("s] h2: created node r3\n"));
  EXPECT_THAT(r.out, HasSubstr("applied " + topology_file_ + " in "));

  script.apply_events.clear();
  script.apply_status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                     "lab demo is FAILED; apply changes only "
                                     "a RUNNING lab");
  service_.SetScript(script);
  r = Run({"apply", topology_file_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("lab demo is FAILED"));
}

TEST_F(EmuctlTest, UpFailuresExit1WithTheServersMessage) {
  FakeControllerService::Script script;
  script.validate_status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "demo.yaml:3: node r1: bad address");
  service_.SetScript(script);
  Result r = Run({"up", topology_file_});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "emuctl: demo.yaml:3: node r1: bad address\n");
  EXPECT_THAT(service_.calls(), ElementsAre("ValidateTopology"));

  script.validate_status = grpc::Status::OK;
  script.validate_response.set_valid(true);
  script.validate_response.set_lab("demo");
  script.deploy_events = {Parse<v1::DeployEvent>(R"pb(state: DEPLOYING)pb")};
  script.deploy_status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                      "host h2 unreachable; rolled back");
  service_.SetScript(script);
  r = Run({"up", topology_file_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("emuctl: DeployLab: host h2 unreachable; rolled back"));
  EXPECT_THAT(r.err, Not(HasSubstr("cannot reach the emu controller")));
  EXPECT_THAT(r.err, HasSubstr("lab demo was not deployed"));

  r = Run({"up", dir_ + "/missing.yaml"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("read topology " + dir_ + "/missing.yaml"));
}

TEST_F(EmuctlTest, Validate) {
  FakeControllerService::Script script;
  script.validate_response = Parse<v1::ValidateTopologyResponse>(
      R"pb(valid: true lab: "demo" nodes: 1 warnings: "w1")pb");
  service_.SetScript(script);
  Result r = Run({"validate", topology_file_});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, topology_file_ + ": OK (lab demo: 1 nodes, 0 links)\nwarning: w1\n");
  EXPECT_THAT(r.err, IsEmpty());
}

// ~75 errors once exceeded gRPC's metadata limit as one status message;
// they come in the response, and emuctl prints the first 20 and a count.
v1::ValidateTopologyResponse Refused(int errors) {
  v1::ValidateTopologyResponse r;
  r.set_valid(false);
  for (int i = 1; i <= errors; ++i) {
    v1::Problem* p = r.add_problems();
    p->set_file("demo.yaml");
    p->set_line(i);
    p->set_object(absl::StrCat("node n", i));
    p->set_message("address 10.0.0.1/24 is also on node n0");
    p->set_severity(v1::Problem::ERROR);
  }
  return r;
}

TEST_F(EmuctlTest, ValidateShowsFirstProblemsThenHowManyMore) {
  FakeControllerService::Script script;
  script.validate_response = Refused(75);
  service_.SetScript(script);
  Result r = Run({"validate", topology_file_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, HasSubstr("demo.yaml:1: node n1: address 10.0.0.1/24 is "
                               "also on node n0\n"));
  EXPECT_THAT(r.err, HasSubstr("demo.yaml:20: node n20:"));
  EXPECT_THAT(r.err, Not(HasSubstr("demo.yaml:21:")));
  EXPECT_THAT(r.err, HasSubstr("... and 55 more problems\n"));
  EXPECT_THAT(r.err, HasSubstr("emuctl: topology refused: 75 errors\n"));

  // `up` stops at the same answer, before any deploy.
  r = Run({"up", topology_file_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("... and 55 more problems\n"));
  EXPECT_THAT(service_.calls(),
              ElementsAre("ValidateTopology", "ValidateTopology"));
}

TEST_F(EmuctlTest, UpPrintsTheProblemsOfARefusedDeploy) {
  FakeControllerService::Script script;
  script.validate_response.set_valid(true);
  script.validate_response.set_lab("demo");
  v1::DeployEvent refused;
  refused.set_state(v1::FAILED);
  refused.set_message("topology refused");
  *refused.mutable_problems() = Refused(3).problems();
  script.deploy_events = {refused};
  script.deploy_status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                      "demo.yaml:1: node n1: address...");
  service_.SetScript(script);
  Result r = Run({"up", topology_file_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("demo.yaml:3: node n3: address 10.0.0.1/24"));
  EXPECT_THAT(r.err, Not(HasSubstr("more problems")));
  EXPECT_THAT(r.err, HasSubstr("lab demo was not deployed"));
}

TEST_F(EmuctlTest, AnswerLargerThanGrpcsDefaultIsReceived) {
  // gRPC's client default refused anything over 4 MiB (a 100k-node lab).
  FakeControllerService::Script script;
  script.validate_response.set_valid(true);
  script.validate_response.set_lab("big");
  script.validate_response.add_warnings(std::string(5 << 20, 'w'));
  service_.SetScript(script);
  Result r = Run({"validate", topology_file_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(": OK (lab big: "));
}

TEST_F(EmuctlTest, UpSendsTheValuesOfTheVariablesTheFileNamesOnly) {
  const std::string file = dir_ + "/vars.yaml";
  std::ofstream(file) << "name: ${EMU_TEST_LAB}\n"
                         "x: ${EMU_TEST_UNSET:=d} $EMU_TEST_OTHER\n";
  setenv("EMU_TEST_LAB", "demo2", 1);
  setenv("EMU_TEST_OTHER", "not-named-with-braces", 1);
  unsetenv("EMU_TEST_UNSET");
  FakeControllerService::Script script;
  script.validate_response = Parse<v1::ValidateTopologyResponse>(
      R"pb(valid: true lab: "demo2" nodes: 1)pb");
  script.deploy_events = {
      Parse<v1::DeployEvent>(R"pb(message: "done" state: RUNNING)pb")};
  service_.SetScript(script);
  Result r = Run({"up", file});
  unsetenv("EMU_TEST_LAB");
  unsetenv("EMU_TEST_OTHER");
  EXPECT_EQ(r.code, 0) << r.err;
  const v1::DeployLabRequest deploy = service_.last_deploy();
  const auto& env = deploy.source().file().env();
  ASSERT_EQ(env.size(), 1u);
  EXPECT_EQ(env.at("EMU_TEST_LAB"), "demo2");
}

TEST_F(EmuctlTest, ValidateWithoutControllerChecksOffline) {
  const std::string good = dir_ + "/good.yaml";
  std::ofstream(good) << R"(name: lab1
topology:
  nodes:
    a: {interfaces: {eth1: {addresses: [10.0.1.1/24]}}}
    b: {interfaces: {eth1: {addresses: [10.0.1.2/24]}}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      rate: 10mbit
)";
  const std::string none = dir_ + "/none.json";
  Result r = Run({"--cluster", none, "validate", good});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, good + ": OK (lab lab1: 2 nodes, 1 links)\n");
  EXPECT_EQ(r.err,
            "emuctl: no controller: validated offline, host capabilities not "
            "checked\n");

  const std::string bad = dir_ + "/bad.yaml";
  std::ofstream(bad) << R"(name: lab1
topology:
  nodes:
    a: {interfaces: {eth1: {addresses: [10.0.1.1/24]}}}
  links:
    - endpoints: ["a:eth1", "zz:eth1"]
)";
  r = Run({"--cluster", none, "validate", bad});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no controller: validated offline"));
  EXPECT_THAT(r.err, HasSubstr(bad + ":6: "));
  EXPECT_THAT(r.err, HasSubstr("emuctl: topology refused: "));

  // An unreachable controller counts as none, too.
  r = Run({"--controller", "127.0.0.1:1", "validate", good});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no controller: validated offline"));
  EXPECT_TRUE(service_.calls().empty());
}

TEST_F(EmuctlTest, ExecPassesOutputAndExitStatusThrough) {
  FakeControllerService::Script script;
  script.exec = [](const v1::LabExecRequest& req, v1::ExecResponse* resp) {
    resp->set_stdout(std::string("out\0bytes\n", 10));
    resp->set_stderr("err line\n");
    // "exit N" exits N; anything else exits 0.
    resp->set_exit_code(req.argv(0) == "exit" ? std::stoi(req.argv(1)) : 0);
    return grpc::Status::OK;
  };
  service_.SetScript(script);
  Result r = Run({"exec", "demo", "r1", "--timeout", "5s", "--", "exit", "3"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, std::string("out\0bytes\n", 10));
  EXPECT_EQ(r.err, "err line\n");
  v1::LabExecRequest sent = service_.last_exec();
  EXPECT_EQ(sent.lab(), "demo");
  EXPECT_EQ(sent.node(), "r1");
  EXPECT_THAT(sent.argv(), ElementsAre("exit", "3"));
  EXPECT_EQ(sent.timeout_ms(), 5000u);
  EXPECT_EQ(sent.stdin(), "");

  r = Run({"exec", "-i", "demo", "r1", "--", "cat", "-n"}, "piped input");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(service_.last_exec().stdin(), "piped input");
  EXPECT_THAT(service_.last_exec().argv(), ElementsAre("cat", "-n"));
  EXPECT_EQ(service_.last_exec().timeout_ms(), 60000u);

  r = Run({"exec", "demo", "r1", "--", "exit", "137"});
  EXPECT_EQ(r.code, 137);
}

TEST_F(EmuctlTest, ExecTimeoutIs124AndRpcErrorsAre1) {
  FakeControllerService::Script script;
  script.exec = [](const v1::LabExecRequest&, v1::ExecResponse* resp) {
    resp->set_stdout("partial");
    resp->set_timed_out(true);
    resp->set_exit_code(137);
    return grpc::Status::OK;
  };
  service_.SetScript(script);
  Result r = Run({"exec", "demo", "r1", "--timeout", "2", "--", "sleep", "9"});
  EXPECT_EQ(r.code, 124);
  EXPECT_EQ(r.out, "partial");
  EXPECT_EQ(r.err, "emuctl: command timed out after 2.0s in demo/r1 and was killed\n");

  script.exec = [](const v1::LabExecRequest&, v1::ExecResponse*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "lab demo: node r9: not found");
  };
  service_.SetScript(script);
  r = Run({"exec", "demo", "r9", "--", "true"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "emuctl: lab demo: node r9: not found\n");

  r = Run({"exec", "demo", "r1", "--timeout", "0", "--", "true"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("invalid --timeout \"0\""));
}

TEST_F(EmuctlTest, ExecWaitsForAConvergingLabWithOneLine) {
  FakeControllerService::Script script;
  script.exec = [](const v1::LabExecRequest&, v1::ExecResponse* resp) {
    resp->set_stdout("ran\n");
    return grpc::Status::OK;
  };
  v1::Lab deploying;
  deploying.set_name("demo");
  deploying.set_state(v1::DEPLOYING);
  deploying.set_converging(true);
  script.lab_by_name["demo"] = deploying;
  service_.SetScript(script);
  std::thread converge([&] {
    // RUNNING once emuctl has asked twice: it must not have run the command
    // before then.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    auto asked = [&] {
      int n = 0;
      for (const auto& c : service_.calls()) n += c == "GetLab";
      return n;
    };
    while (asked() < 2 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    auto calls = service_.calls();
    EXPECT_EQ(std::count(calls.begin(), calls.end(), "Exec"), 0);
    FakeControllerService::Script running = script;
    running.lab_by_name["demo"].set_state(v1::RUNNING);
    running.lab_by_name["demo"].set_converging(false);
    service_.SetScript(running);
  });
  Result r = Run({"exec", "demo", "r1", "--", "true"});
  converge.join();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  EXPECT_EQ(r.err,
            "emuctl: lab demo is DEPLOYING; waiting up to 1m for it to be "
            "RUNNING\n");
}

TEST_F(EmuctlTest, StatusListOneAndJson) {
  FakeControllerService::Script script;
  script.labs = Parse<v1::ListLabsResponse>(
      R"pb(labs { name: "demo" state: RUNNING nodes {} }
           labs { name: "old" state: FAILED })pb");
  script.lab_by_name["demo"] = Parse<v1::Lab>(R"pb(
    name: "demo"
    state: RUNNING
    nodes { name: "r1" kind: NODE_KIND_NETNS host: "h1" })pb");
  service_.SetScript(script);

  Result r = Run({"status"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NAME  STATE    NODES  LINKS  AGE\n"
                               "demo  RUNNING  1      0      -\n"
                               "old   FAILED   0      0      -\n"));

  r = Run({"status", "demo"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("State:  RUNNING\n"));
  EXPECT_THAT(r.out, HasSubstr("r1    netns  h1"));

  r = Run({"status", "demo", "--json"});
  EXPECT_EQ(r.code, 0);
  v1::Lab parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
  EXPECT_EQ(parsed.nodes(0).host(), "h1");
  EXPECT_THAT(r.out, HasSubstr("\"state\": \"RUNNING\""));

  r = Run({"status", "nosuch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "emuctl: lab nosuch: not found\n");
}

TEST_F(EmuctlTest, DownShowsProgressAndFailsOnlyOnErrors) {
  FakeControllerService::Script script;
  script.destroy_events = {
      Parse<v1::DeployEvent>(R"pb(host: "h1" message: "removed node r1" state: DESTROYING)pb"),
      Parse<v1::DeployEvent>(R"pb(state: DESTROYED)pb")};
  service_.SetScript(script);
  Result r = Run({"down", "demo"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("s] h1: removed node r1\n"));
  EXPECT_THAT(r.out, HasSubstr("lab demo destroyed in "));

  script.destroy_events.clear();
  script.destroy_status = grpc::Status(grpc::StatusCode::NOT_FOUND, "lab x: not found");
  service_.SetScript(script);
  r = Run({"down", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "emuctl: lab x: not found\n");
}

TEST_F(EmuctlTest, Hosts) {
  FakeControllerService::Script script;
  script.hosts = Parse<v1::ListHostsResponse>(R"pb(
    hosts { name: "h1" address: "198.18.0.11:7471" reachable: true
            capabilities { cpus: 2 qdiscs: "tbf" } })pb");
  service_.SetScript(script);
  Result r = Run({"hosts"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("h1    198.18.0.11:7471  yes"));
  r = Run({"hosts", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("\"address\": \"198.18.0.11:7471\""));
}

}  // namespace
}  // namespace emu::cli
