#include "linkemu/nl_error.h"

#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"

namespace emu::linkemu {

absl::Status NlErrorToStatus(int nl_err, absl::string_view what) {
  if (nl_err == 0) return absl::OkStatus();
  int e = std::abs(nl_err);
  std::string msg = absl::StrCat(what, ": ", nl_geterror(e));
  switch (e) {
    case NLE_EXIST:
      return absl::AlreadyExistsError(msg);
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      return absl::NotFoundError(msg);
    case NLE_PERM:
    case NLE_NOACCESS:
      return absl::PermissionDeniedError(msg);
    case NLE_INVAL:
    case NLE_RANGE:
    case NLE_MISSING_ATTR:
      return absl::InvalidArgumentError(msg);
    case NLE_BUSY:
    case NLE_AGAIN:
      return absl::UnavailableError(msg);
    case NLE_OPNOTSUPP:
      return absl::UnimplementedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// Finds the NLMSGERR_ATTR_MSG string in an error reply, if the kernel sent
// extended-ack attributes.
static std::string ExtackMessage(const nlmsghdr* hdr, const nlmsgerr* e) {
  if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  size_t offset = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(hdr->nlmsg_flags & NLM_F_CAPPED)) {
    // The original request follows nlmsgerr's copy of its header.
    offset += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
  }
  const char* base = reinterpret_cast<const char*>(hdr);
  const size_t end = hdr->nlmsg_len;
  while (offset + NLA_HDRLEN <= end) {
    const nlattr* a = reinterpret_cast<const nlattr*>(base + offset);
    if (a->nla_len < NLA_HDRLEN || offset + a->nla_len > end) break;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* s = base + offset + NLA_HDRLEN;
      size_t n = strnlen(s, a->nla_len - NLA_HDRLEN);
      return std::string(s, n);
    }
    offset += NLA_ALIGN(a->nla_len);
  }
  return "";
}

struct NlErrorCaptureAccess {
  static int OnError(sockaddr_nl* /*nla*/, nlmsgerr* e, void* arg) {
    auto* self = static_cast<NlErrorCapture*>(arg);
    if (self->errno_ == 0 && e->error != 0) {
      self->errno_ = std::abs(e->error);
      const nlmsghdr* hdr = reinterpret_cast<const nlmsghdr*>(
          reinterpret_cast<const char*>(e) - NLMSG_HDRLEN);
      self->message_ = ExtackMessage(hdr, e);
    }
    // NL_STOP keeps libnl's behaviour: the request fails with the mapped
    // NLE code.
    return NL_STOP;
  }
};

NlErrorCapture::NlErrorCapture(nl_sock* sock) : sock_(sock) {
  int one = 1;
  // Best effort: kernels without extended ack still report errno.
  setsockopt(nl_socket_get_fd(sock_), SOL_NETLINK, NETLINK_EXT_ACK, &one,
             sizeof(one));
  nl_socket_modify_err_cb(sock_, NL_CB_CUSTOM, &NlErrorCaptureAccess::OnError,
                          this);
}

NlErrorCapture::~NlErrorCapture() {
  nl_socket_modify_err_cb(sock_, NL_CB_DEFAULT, nullptr, nullptr);
}

void NlErrorCapture::Reset() {
  errno_ = 0;
  message_.clear();
}

absl::Status NlErrorCapture::ToStatus(int nl_err,
                                      absl::string_view what) const {
  if (nl_err == 0) return absl::OkStatus();
  if (errno_ == 0) return NlErrorToStatus(nl_err, what);
  absl::Status s = emu::ErrnoToStatus(errno_, what);
  if (message_.empty()) return s;
  return absl::Status(s.code(), absl::StrCat(s.message(), " (", message_, ")"));
}

}  // namespace emu::linkemu
