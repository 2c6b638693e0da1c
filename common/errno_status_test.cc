#include "common/errno_status.h"

#include <cerrno>

#include "common/status_macros.h"
#include "gtest/gtest.h"

namespace emu {
namespace {

TEST(ErrnoToStatusTest, KeepsRetryMeaningAndNamesObject) {
  absl::Status s = ErrnoToStatus(EEXIST, "create veth v1<->v2");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "create veth v1<->v2: File exists");
  EXPECT_EQ(ErrnoToStatus(ENOENT, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoToStatus(EPERM, "x").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EBUSY, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoToStatus(EIO, "x").code(), absl::StatusCode::kInternal);
}

absl::StatusOr<int> Half(int v) {
  if (v % 2) return absl::InvalidArgumentError("odd");
  return v / 2;
}

absl::StatusOr<int> Quarter(int v) {
  EMU_ASSIGN_OR_RETURN(int h, Half(v));
  EMU_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status Check(int v) {
  EMU_RETURN_IF_ERROR(Quarter(v).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_TRUE(Check(4).ok());
  EXPECT_FALSE(Check(2).ok());
  EXPECT_EQ(Annotate(absl::NotFoundError("gone"), "node r1").message(),
            "node r1: gone");
}

}  // namespace
}  // namespace emu
