#include "controller/lab/link_set.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

}  // namespace

absl::StatusOr<emu::v1::Link*> EditLinkParams(
    const emu::v1::LabSetLinkParamsRequest& req, emu::v1::Topology* topology) {
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
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("lab ", topology->name(),
                                            " has no link ", req.link()));
  }
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  using Dir = emu::v1::LabSetLinkParamsRequest;
  if (req.direction() != Dir::DIRECTION_B_TO_A) {
    FieldMaskUtil::MergeMessageTo(req.params(), mask, options,
                                  found->mutable_a_to_b());
  }
  if (req.direction() != Dir::DIRECTION_A_TO_B) {
    FieldMaskUtil::MergeMessageTo(req.params(), mask, options,
                                  found->mutable_b_to_a());
  }
  return found;
}

}  // namespace emu::controller::lab
