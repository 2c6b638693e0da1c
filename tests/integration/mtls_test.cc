// Mutual TLS between the real daemons (issue 9): the agent serves only the
// controller's certificate of its own cluster CA; the controller serves TLS
// to emuctl and registrations only to agents' certificates.
#include <string>

#include "common/auth.h"
#include "common/pki/pki.h"
#include "common/transport_security.h"
#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"
#include "proto/controller.grpc.pb.h"
#include "proto/registration.grpc.pb.h"
#include "tests/integration/daemons.h"

namespace emu::testing {
namespace {

class MtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemons_ = std::make_unique<Daemons>("mtls");
    ASSERT_TRUE(daemons_->StartAgent().ok()) << daemons_->AgentLog();
  }

  // GetCapabilities on the agent, presenting `transport`.
  grpc::Status CallAgent(const TransportSecurity& transport) {
    auto stub = v1::AgentService::NewStub(NewChannel(
        transport, absl::StrCat("127.0.0.1:", daemons_->agent_port()),
        daemons_->host()));
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, daemons_->token());
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::Capabilities caps;
    return stub->GetCapabilities(&ctx, v1::GetCapabilitiesRequest(), &caps);
  }

  // A transport with the cluster CA and a certificate issued for `subject`
  // by `ca`.
  TransportSecurity Holding(const common::pki::Credentials& ca,
                            const common::pki::Subject& subject) {
    TransportSecurity t;
    t.ca_pem = Controller().ca_pem;
    auto own = common::pki::Issue(ca, subject);
    EXPECT_TRUE(own.ok()) << own.status();
    if (own.ok()) t.own = *own;
    return t;
  }

  std::string ControllerAddress() const {
    return absl::StrCat("127.0.0.1:", daemons_->controller_port());
  }
  TransportSecurity Controller() {
    return ControllerTransport(daemons_->pki_dir());
  }
  common::pki::Credentials ClusterCa() {
    auto ca = common::pki::ReadCredentials(
        common::pki::ControllerPaths(daemons_->pki_dir()).ca_cert,
        common::pki::ControllerPaths(daemons_->pki_dir()).ca_key);
    EXPECT_TRUE(ca.ok()) << ca.status();
    return ca.ok() ? *ca : common::pki::Credentials{};
  }

  std::unique_ptr<Daemons> daemons_;
};

TEST_F(MtlsTest, AgentServesTheControllersCertificate) {
  grpc::Status s = CallAgent(Controller());
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(MtlsTest, AgentRefusesAClientWithoutCertificate) {
  TransportSecurity anonymous;
  anonymous.ca_pem = Controller().ca_pem;
  EXPECT_FALSE(CallAgent(anonymous).ok());
}

TEST_F(MtlsTest, AgentRefusesPlainText) {
  EXPECT_FALSE(CallAgent(TransportSecurity::Plaintext()).ok());
}

TEST_F(MtlsTest, AgentRefusesAControllerCertificateOfAnotherCa) {
  auto foreign = common::pki::CreateCa("foreign");
  ASSERT_TRUE(foreign.ok());
  common::pki::Subject controller;
  controller.role = common::pki::Role::kController;
  EXPECT_FALSE(CallAgent(Holding(*foreign, controller)).ok());
}

TEST_F(MtlsTest, AgentRefusesAnAgentsCertificate) {
  // A certificate of the same CA, but an agent's (another host's, or its
  // own): agents take orders from the controller only.
  for (const std::string& host : {std::string("other"), daemons_->host()}) {
    common::pki::Subject agent;
    agent.name = host;
    grpc::Status s = CallAgent(Holding(ClusterCa(), agent));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << host << ": " << s.error_message();
    EXPECT_NE(s.error_message().find("only the controller"), std::string::npos)
        << s.error_message();
  }
}

TEST_F(MtlsTest, ControllerServesTlsAndTakesRegistrationsFromAgentsOnly) {
  ASSERT_TRUE(daemons_->StartController().ok());
  // emuctl: TLS checking the controller, a token, no certificate.
  grpc::Status listed;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, daemons_->token());
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::ListHostsResponse hosts;
    listed = daemons_->Controller()->ListHosts(&ctx, v1::ListHostsRequest(),
                                               &hosts);
    // The controller reached its agent over mutual TLS.
    if (listed.ok() && hosts.hosts_size() == 1 && hosts.hosts(0).reachable()) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  ASSERT_TRUE(listed.ok()) << listed.error_message();

  // Register as an agent without an agent certificate: refused.
  v1::RegisterRequest req;
  req.set_host("intruder");
  req.set_agent_address("127.0.0.1:1");
  TransportSecurity emuctl;
  emuctl.ca_pem = Controller().ca_pem;
  for (const TransportSecurity& t : {emuctl, Controller()}) {
    auto stub = v1::RegistrationService::NewStub(NewChannel(
        t, ControllerAddress(), common::pki::kControllerName));
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, daemons_->token());
    v1::RegisterResponse resp;
    grpc::Status s = stub->Register(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << s.error_message();
  }
  // Plain text to the controller: refused.
  auto plain = v1::ControllerService::NewStub(NewChannel(
      TransportSecurity::Plaintext(), ControllerAddress(), ""));
  grpc::ClientContext ctx;
  AddAuthToken(&ctx, daemons_->token());
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::ListHostsResponse hosts;
  EXPECT_FALSE(plain->ListHosts(&ctx, v1::ListHostsRequest(), &hosts).ok());
}

}  // namespace
}  // namespace emu::testing
