#include "common/metrics/metrics_endpoint.h"

#include "absl/strings/match.h"
#include "common/metrics/testing/exposition_parser.h"
#include "gtest/gtest.h"

namespace emu::metrics {
namespace {

http::Request Get(const std::string& auth = "") {
  http::Request r;
  r.method = "GET";
  r.path = "/metrics";
  if (!auth.empty()) r.headers["authorization"] = auth;
  return r;
}

class MetricsEndpointTest : public ::testing::Test {
 protected:
  MetricsEndpointTest() {
    registry_.AddGauge("emu_labs", "Labs.", {"state"})
        ->WithLabels({"running"})
        ->Set(2);
  }
  // Tokens: "admin-tok" an administrator, "user-tok" a plain user.
  static absl::StatusOr<Caller> Identify(absl::string_view token) {
    if (token == "admin-tok") return Caller{"admin", true, true};
    if (token == "user-tok") return Caller{"alice", false, false};
    return absl::UnauthenticatedError("no");
  }
  Registry registry_;
};

TEST_F(MetricsEndpointTest, AdministratorsGetTheExposition) {
  http::Handler h = MetricsHandler(&registry_, &Identify);
  http::Response r = h(Get("Bearer admin-tok"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, kContentType);
  auto parsed = testing::ParseExposition(r.body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(testing::FindValue(*parsed, "emu_labs", {{"state", "running"}}), 2);
}

TEST_F(MetricsEndpointTest, OthersAreRefused) {
  http::Handler h = MetricsHandler(&registry_, &Identify);
  http::Response none = h(Get());
  EXPECT_EQ(none.status, 401);
  EXPECT_FALSE(absl::StrContains(none.body, "emu_labs"));
  EXPECT_EQ(h(Get("Bearer wrong")).status, 401);
  http::Response user = h(Get("Bearer user-tok"));
  EXPECT_EQ(user.status, 403);
  EXPECT_TRUE(absl::StrContains(user.body, "alice is not one")) << user.body;
  http::Request post = Get("Bearer admin-tok");
  post.method = "POST";
  EXPECT_EQ(h(post).status, 405);
}

TEST_F(MetricsEndpointTest, UnauthenticatedOnlyWhenAskedFor) {
  http::Handler h = MetricsHandler(&registry_, nullptr);
  EXPECT_EQ(h(Get()).status, 200);
}

}  // namespace
}  // namespace emu::metrics
