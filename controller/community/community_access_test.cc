#include "controller/community/community_access.h"

#include "gtest/gtest.h"

namespace emu::controller::community {
namespace {

Export Ix1(std::vector<std::string> to) {
  return Export{"alice", "backbone", "ix1", "sw1", std::move(to)};
}

TEST(CommunityAccessTest, WhoMayAttach) {
  struct {
    const char* caller;
    std::vector<std::string> to;
    bool allowed;
  } cases[] = {
      {"alice", {}, true},                     // the owner
      {kAdministrator, {}, true},              // the administrator
      {"bob", {"bob", "carol"}, true},         // named
      {"carol", {"bob", "carol"}, true},
      {"dave", {"bob", "carol"}, false},       // not named
      {"dave", {kEveryone}, true},             // offered to all
      {"bob", {}, false},                      // offered to nobody
      {"", {kEveryone}, false},                // no identity
      {"Bob", {"bob"}, false},                 // names are exact
  };
  for (const auto& c : cases) {
    absl::Status s = MayAttach(c.caller, Ix1(c.to));
    EXPECT_EQ(s.ok(), c.allowed) << "caller '" << c.caller << "': " << s;
  }
}

TEST(CommunityAccessTest, RefusalNamesTheEndpointAndTheCallerOnly) {
  absl::Status s = MayAttach("dave", Ix1({"bob"}));
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_EQ(s.message(),
            "community endpoint alice/ix1 does not exist or is not exported "
            "to dave");
  EXPECT_EQ(ExportName(Ix1({})), "alice/ix1");
}

}  // namespace
}  // namespace emu::controller::community
