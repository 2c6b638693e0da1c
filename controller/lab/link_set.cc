#include "controller/lab/link_set.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/community/community_access.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "proto/topology_names.h"

namespace emu::controller::lab {
namespace {

using google::protobuf::FieldMask;
using google::protobuf::util::FieldMaskUtil;

bool EndIs(const emu::v1::Endpoint& e, const std::string& text) {
  return EndpointName(e) == text;
}

constexpr absl::string_view kCommunityPrefix = "community:";

// "OWNER/NAME" of a community endpoint as written ("alice/ix1", "ix1"),
// or "" when it is not one.
std::string Qualified(absl::string_view endpoint, absl::string_view owner) {
  std::string who, name;
  if (!community::SplitEndpoint(endpoint, owner, &who, &name).ok()) return "";
  return absl::StrCat(who, "/", name);
}

// True when `text` names the community end of `at` ("community:alice/ix1").
bool CommunityEndIs(const emu::v1::Attachment& at, absl::string_view owner,
                    absl::string_view text) {
  if (!absl::ConsumePrefix(&text, kCommunityPrefix)) return false;
  const std::string mine = Qualified(at.endpoint(), owner);
  return !mine.empty() && Qualified(text, owner) == mine;
}

}  // namespace

absl::StatusOr<emu::v1::Link> EditLinkParams(
    const emu::v1::LabSetLinkParamsRequest& req, absl::string_view owner,
    emu::v1::Topology* topology) {
  if (req.fields().empty()) {
    return absl::InvalidArgumentError(
        "link set: no condition given (e.g. --delay 50ms)");
  }
  FieldMask mask;
  const auto* descriptor = emu::v1::LinkParams::descriptor();
  for (const std::string& f : req.fields()) {
    if (descriptor->FindFieldByName(f) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("link set: LinkParams has no field ", f));
    }
    mask.add_paths(f);
  }
  std::vector<std::string> ends = absl::StrSplit(req.link(), "<->");
  if (ends.size() > 2 || ends[0].empty() ||
      (ends.size() == 2 && ends[1].empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "link \"", req.link(),
        "\": write NODE:IFACE<->NODE:IFACE or one end NODE:IFACE"));
  }
  emu::v1::Link* found = nullptr;
  for (auto& link : *topology->mutable_links()) {
    bool match;
    if (ends.size() == 1) {
      match = EndIs(link.a(), ends[0]) || EndIs(link.b(), ends[0]);
    } else {
      match = (EndIs(link.a(), ends[0]) && EndIs(link.b(), ends[1])) ||
              (EndIs(link.a(), ends[1]) && EndIs(link.b(), ends[0]));
    }
    if (match) {
      found = &link;
      break;
    }
  }
  // A community attachment: its conditions live in the Attachment.
  emu::v1::Attachment* attachment = nullptr;
  for (auto& at : *topology->mutable_attachments()) {
    if (found != nullptr) break;  // a link of the lab's own comes first
    bool match;
    if (ends.size() == 1) {
      match = EndIs(at.local(), ends[0]);
    } else {
      match = (EndIs(at.local(), ends[0]) &&
               CommunityEndIs(at, owner, ends[1])) ||
              (EndIs(at.local(), ends[1]) &&
               CommunityEndIs(at, owner, ends[0]));
    }
    if (match) {
      attachment = &at;
      break;
    }
  }
  if (found == nullptr && attachment == nullptr) {
    return absl::NotFoundError(absl::StrCat("lab ", topology->name(),
                                            " has no link ", req.link()));
  }
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  using Dir = emu::v1::LabSetLinkParamsRequest;
  emu::v1::LinkParams* a_to_b = found != nullptr
                                    ? found->mutable_a_to_b()
                                    : attachment->mutable_to_community();
  emu::v1::LinkParams* b_to_a = found != nullptr
                                    ? found->mutable_b_to_a()
                                    : attachment->mutable_from_community();
  if (req.direction() != Dir::DIRECTION_B_TO_A) {
    FieldMaskUtil::MergeMessageTo(req.params(), mask, options, a_to_b);
  }
  if (req.direction() != Dir::DIRECTION_A_TO_B) {
    FieldMaskUtil::MergeMessageTo(req.params(), mask, options, b_to_a);
  }
  if (found != nullptr) return *found;
  emu::v1::Link edited;
  *edited.mutable_a() = attachment->local();
  edited.mutable_b()->set_node(absl::StrCat(
      kCommunityPrefix, Qualified(attachment->endpoint(), owner)));
  *edited.mutable_a_to_b() = attachment->to_community();
  *edited.mutable_b_to_a() = attachment->from_community();
  *edited.mutable_source() = attachment->source();
  return edited;
}

}  // namespace emu::controller::lab
