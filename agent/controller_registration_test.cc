// ControllerRegistration against a real RegistrationService on loopback.
#include "agent/controller_registration.h"

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/pki/pki.h"
#include "common/thread_pool.h"
#include "common/transport_security.h"
#include "controller/hosts/registration_service.h"
#include "controller/hosts/testing/fake_agent_client.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"
#include "gtest/gtest.h"

namespace emu::agent {
namespace {

// Counts the calls that reach the server (a server interceptor, since the
// service is final), so the test can wait for heartbeats instead of
// sleeping and hoping some fired.
class CallCounter {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++calls_;
  }
  // True once `n` calls arrived; false at `deadline`.
  bool WaitFor(int n, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    wanted_ = n;
    return mu_.AwaitWithDeadline(absl::Condition(this, &CallCounter::Reached),
                                 deadline);
  }

 private:
  bool Reached() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return calls_ >= wanted_;
  }
  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int wanted_ ABSL_GUARDED_BY(mu_) = 0;
};

class CountingInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit CountingInterceptor(CallCounter* counter) : counter_(counter) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                POST_RECV_INITIAL_METADATA)) {
      counter_->Add();
    }
    methods->Proceed();
  }

 private:
  CallCounter* counter_;
};

class CountingInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingInterceptorFactory(CallCounter* counter)
      : counter_(counter) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new CountingInterceptor(counter_);
  }

 private:
  CallCounter* counter_;
};

TEST(ControllerRegistrationTest, RegistersAndHeartbeats) {
  controller::hosts::HostRegistry hosts;
  ThreadPool pool(2);
  controller::hosts::RegistrationServiceImpl service(
      &hosts, "secret", &pool,
      [](const std::string& host, const std::string&) {
        return std::make_unique<controller::hosts::FakeAgentClient>(host);
      },
      absl::Milliseconds(300), [](const std::string&) {});
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  CallCounter calls;
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<CountingInterceptorFactory>(&calls));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  auto server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  emu::v1::RegisterRequest req;
  req.set_host("h7");
  req.set_agent_address("127.0.0.1:7471");
  req.set_instance_id(NewInstanceId());
  req.mutable_capabilities()->set_cpus(2);
  const std::string address = "127.0.0.1:" + std::to_string(port);

  // Wrong token: UNAUTHENTICATED, nothing registered.
  ControllerRegistration bad(address, "wrong", TransportSecurity::Plaintext(),
                             req, [](const std::string&) {});
  EXPECT_EQ(bad.RegisterOnce().status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(hosts.Snapshot().empty());

  std::vector<std::string> log;
  absl::Mutex mu;
  {
    ControllerRegistration reg(address, "secret",
                               TransportSecurity::Plaintext(), req,
                               [&](const std::string& l) {
                                 absl::MutexLock lock(&mu);
                                 log.push_back(l);
                               });
    auto next = reg.RegisterOnce();
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(*next, absl::Milliseconds(300));
    ASSERT_EQ(hosts.Snapshot().size(), 1u);
    EXPECT_EQ(hosts.Snapshot()[0].name(), "h7");
    EXPECT_EQ(hosts.Snapshot()[0].capabilities().cpus(), 2u);
    reg.Start();
    // The bad call and RegisterOnce, then at least two heartbeats (every
    // 300 ms).
    ASSERT_TRUE(calls.WaitFor(4, absl::Now() + absl::Seconds(10)))
        << "no heartbeats reached the controller";
  }
  absl::MutexLock lock(&mu);
  ASSERT_EQ(log.size(), 1u);  // logged once, not per heartbeat
  EXPECT_NE(log[0].find("registered host h7"), std::string::npos) << log[0];
  server->Shutdown();

  // Unreachable controller: a clear UNAVAILABLE.
  ControllerRegistration gone(address, "secret",
                              TransportSecurity::Plaintext(), req,
                              [](const std::string&) {});
  EXPECT_EQ(gone.RegisterOnce().status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ControllerRegistrationTest, AdvertisedAddress) {
  EXPECT_EQ(*AdvertisedAddress("10.1.0.2:0", 41234, ""), "10.1.0.2:41234");
  EXPECT_EQ(*AdvertisedAddress("0.0.0.0:7471", 7471, "h1.lab:7471"),
            "h1.lab:7471");
  EXPECT_EQ(AdvertisedAddress("0.0.0.0:7471", 7471, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AdvertisedAddress("[::]:7471", 7471, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Over mutual TLS the controller takes registrations only from agents'
// certificates of the cluster CA, each for its own host name.
class TlsRegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = common::pki::CreateCa("test");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    common::pki::Subject controller;
    controller.role = common::pki::Role::kController;
    TransportSecurity server;
    server.ca_pem = ca_.cert_pem;
    server.own = *common::pki::Issue(ca_, controller);
    controller_ = server;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", ServerCredentials(server), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  TransportSecurity AgentTransport(const common::pki::Credentials& ca,
                                   const std::string& host) {
    common::pki::Subject subject;
    subject.name = host;
    TransportSecurity t;
    t.ca_pem = ca_.cert_pem;
    t.own = *common::pki::Issue(ca, subject);
    return t;
  }

  absl::Status Register(const TransportSecurity& t, const std::string& host) {
    emu::v1::RegisterRequest req;
    req.set_host(host);
    req.set_agent_address("127.0.0.1:7471");
    req.set_instance_id(NewInstanceId());
    ControllerRegistration reg("127.0.0.1:" + std::to_string(port_), "secret",
                               t, req, [](const std::string&) {});
    return reg.RegisterOnce().status();
  }

  common::pki::Credentials ca_;
  TransportSecurity controller_;
  controller::hosts::HostRegistry hosts_;
  ThreadPool pool_{2};
  controller::hosts::RegistrationServiceImpl service_{
      &hosts_, "secret", &pool_,
      [](const std::string& host, const std::string&) {
        return std::make_unique<controller::hosts::FakeAgentClient>(host);
      },
      absl::Milliseconds(300), [](const std::string&) {}};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(TlsRegistrationTest, AgentCertificateRegistersItsOwnHost) {
  absl::Status s = Register(AgentTransport(ca_, "h1"), "h1");
  EXPECT_TRUE(s.ok()) << s;
  ASSERT_EQ(hosts_.Snapshot().size(), 1u);
  EXPECT_EQ(hosts_.Snapshot()[0].name(), "h1");
}

TEST_F(TlsRegistrationTest, RefusesOtherHostsCertificates) {
  absl::Status other = Register(AgentTransport(ca_, "h1"), "h2");
  EXPECT_EQ(other.code(), absl::StatusCode::kUnauthenticated) << other;
  EXPECT_NE(other.message().find("'h1'"), std::string::npos) << other;
  // The controller's own certificate is not an agent's.
  absl::Status controller = Register(controller_, "h1");
  EXPECT_EQ(controller.code(), absl::StatusCode::kUnauthenticated)
      << controller;
  // No client certificate at all.
  TransportSecurity anonymous;
  anonymous.ca_pem = ca_.cert_pem;
  EXPECT_EQ(Register(anonymous, "h1").code(),
            absl::StatusCode::kUnauthenticated);
  // Another CA: the handshake fails, nothing reaches the service.
  auto foreign = common::pki::CreateCa("other");
  ASSERT_TRUE(foreign.ok());
  EXPECT_FALSE(Register(AgentTransport(*foreign, "h1"), "h1").ok());
  // Plain text to a TLS port.
  EXPECT_FALSE(Register(TransportSecurity::Plaintext(), "h1").ok());
  EXPECT_TRUE(hosts_.Snapshot().empty());
}

}  // namespace
}  // namespace emu::agent
