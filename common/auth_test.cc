#include "common/auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/thread_pool.h"
#include "gtest/gtest.h"

namespace emu {
namespace {

std::string WriteFile(const std::string& name, const std::string& text,
                      mode_t mode) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

TEST(ReadTokenFileTest, ReadsFirstLineTrimmed) {
  auto token = ReadTokenFile(WriteFile("tok", "  abc123 \nrest", 0600));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "abc123");
}

TEST(ReadTokenFileTest, RefusesWorldReadableAndEmptyAndMissing) {
  auto open = ReadTokenFile(WriteFile("tok_open", "abc", 0644));
  EXPECT_EQ(open.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(open.status().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(ReadTokenFile(WriteFile("tok_empty", "\n", 0600)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTokenFile("/nonexistent/emu-token").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ThreadPoolTest, RunsEveryScheduledTaskBeforeDestruction) {
  absl::Mutex mu;
  int count = 0;
  {
    ThreadPool pool(3);
    for (int i = 0; i < 100; ++i) {
      pool.Schedule([&] {
        absl::MutexLock lock(&mu);
        ++count;
      });
    }
  }
  EXPECT_EQ(count, 100);
}

}  // namespace
}  // namespace emu
