#include "linkemu/nl_error.h"

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <linux/pkt_sched.h>
#include <netlink/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(NlErrorToStatusTest, CodeTable) {
  struct Case {
    int nl_err;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {0, absl::StatusCode::kOk},
      {-NLE_EXIST, absl::StatusCode::kAlreadyExists},
      {NLE_EXIST, absl::StatusCode::kAlreadyExists},
      {-NLE_OBJ_NOTFOUND, absl::StatusCode::kNotFound},
      {-NLE_NODEV, absl::StatusCode::kNotFound},
      {-NLE_PERM, absl::StatusCode::kPermissionDenied},
      {-NLE_NOACCESS, absl::StatusCode::kPermissionDenied},
      {-NLE_INVAL, absl::StatusCode::kInvalidArgument},
      {-NLE_RANGE, absl::StatusCode::kInvalidArgument},
      {-NLE_MISSING_ATTR, absl::StatusCode::kInvalidArgument},
      {-NLE_BUSY, absl::StatusCode::kUnavailable},
      {-NLE_AGAIN, absl::StatusCode::kUnavailable},
      {-NLE_OPNOTSUPP, absl::StatusCode::kUnimplemented},
      {-NLE_FAILURE, absl::StatusCode::kInternal},
      {-NLE_NOMEM, absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NlErrorToStatus(c.nl_err, "x").code(), c.code) << c.nl_err;
  }
}

TEST(NlErrorToStatusTest, MessageNamesObjectAndCause) {
  absl::Status s = NlErrorToStatus(-NLE_EXIST, "create veth a<->b");
  EXPECT_EQ(s.message(), "create veth a<->b: Object exists");
}

// Deleting a qdisc on an interface index that cannot exist changes
// nothing and makes the kernel answer with an error reply (ENODEV as root,
// EPERM otherwise), which the capture must record.
TEST(NlErrorCaptureTest, RecordsKernelErrno) {
  nl_sock* sock = nl_socket_alloc();
  ASSERT_NE(sock, nullptr);
  ASSERT_EQ(nl_connect(sock, NETLINK_ROUTE), 0);
  rtnl_qdisc* q = rtnl_qdisc_alloc();
  rtnl_tc_set_ifindex(TC_CAST(q), 0x7ffffff0);
  rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
  {
    NlErrorCapture capture(sock);
    int err = rtnl_qdisc_delete(sock, q);
    ASSERT_LT(err, 0);
    const int e = capture.kernel_errno();
    EXPECT_TRUE(e == ENODEV || e == EPERM) << e;
    absl::Status s = capture.ToStatus(err, "delete qdisc on nowhere");
    EXPECT_THAT(std::string(s.message()),
                StartsWith(std::string("delete qdisc on nowhere: ") +
                           std::strerror(e)));
    EXPECT_EQ(s.code(), e == ENODEV ? absl::StatusCode::kNotFound
                                    : absl::StatusCode::kPermissionDenied);
    capture.Reset();
    EXPECT_EQ(capture.kernel_errno(), 0);
    EXPECT_TRUE(capture.ToStatus(0, "x").ok());
    // Without a recorded errno the NLE code is used.
    EXPECT_THAT(std::string(capture.ToStatus(-NLE_NOMEM, "y").message()),
                HasSubstr("y: Out of memory"));
  }
  // After the capture is gone libnl's default handling is back: the
  // request still fails with the mapped code.
  int err = rtnl_qdisc_delete(sock, q);
  EXPECT_TRUE(err == -NLE_NODEV || err == -NLE_PERM) << err;
  rtnl_qdisc_put(q);
  nl_socket_free(sock);
}

}  // namespace
}  // namespace emu::linkemu
