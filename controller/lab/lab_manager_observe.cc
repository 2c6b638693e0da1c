// LabManager's observation of running labs: emuctl capture and emuctl
// stats (docs/observability.md).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/lab/lab_counters_merge.h"
#include "controller/lab/lab_manager.h"

namespace emu::controller::lab {

absl::Status LabManager::Capture(const emu::v1::CaptureRequest& request,
                                 hosts::CallCanceller* cancel,
                                 const hosts::AgentClient::ChunkFn& on_chunk) {
  EMU_ASSIGN_OR_RETURN(NodePlace place,
                       LocateNode(request.lab(), request.node()));
  emu::v1::CaptureRequest keyed = request;
  keyed.set_lab(place.lab.name());
  return place.client->Capture(keyed, cancel, on_chunk);
}

absl::StatusOr<emu::v1::LabCounters> LabManager::Stats(const std::string& key) {
  auto stored = store_->Get(key);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat("lab ", key, " not found"));
  }
  if (!stored.ok()) return stored.status();
  std::vector<std::string> hosts;
  for (const auto& n : stored->nodes()) {
    if (std::find(hosts.begin(), hosts.end(), n.host()) == hosts.end()) {
      hosts.push_back(n.host());
    }
  }
  // Every host at once, on the manager's pool: a lab's sample should be
  // one instant, and one slow host must not add its delay to the others'.
  std::vector<absl::StatusOr<emu::v1::LabCounters>> parts(
      hosts.size(), absl::UnknownError("not asked"));
  ParallelFor(hosts.size(), [&](size_t i) {
    auto client = hosts_->Client(hosts[i]);
    parts[i] = client.ok() ? (*client)->GetLabStats(key)
                           : absl::StatusOr<emu::v1::LabCounters>(
                                 client.status());
  });
  emu::v1::LabCounters merged;
  merged.set_lab(stored->name());
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (!parts[i].ok()) {
      merged.add_problems(absl::StrCat("host ", hosts[i], ": ",
                                       parts[i].status().message()));
      continue;
    }
    MergeLabCounters(*parts[i], &merged);
  }
  return merged;
}

}  // namespace emu::controller::lab
