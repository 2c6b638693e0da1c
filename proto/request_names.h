// The name audit at the API boundary (issue 9, docs/security.md "Names"):
// every name a request carries that can reach a path, a namespace, a
// netlink attribute or a command line is checked here, once per RPC, before
// any work, so a hostile name ("../x", "a/b", "a b", "$(x)", ";", empty,
// 300 characters, NUL) is INVALID_ARGUMENT naming the field
// ("exec: node: node name '../x' may use only ...") and goes no deeper.
// The rules are those of topology_names.h (emu::CheckName, lab keys) and
// the topology validator's for interfaces and images. Topologies (DeployLab, ApplyLab, PlanLab,
// ValidateTopology) are checked by the topology validator, which reports
// every problem with its file:line; RegistrationService checks its host.
//
// Pure functions; thread-safe.
#ifndef EMU_PROTO_REQUEST_NAMES_H_
#define EMU_PROTO_REQUEST_NAMES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/agent.pb.h"
#include "proto/controller.pb.h"
#include "proto/experiment.pb.h"
#include "proto/guest.pb.h"
#include "proto/users.pb.h"

namespace emu::request_names {

// An interface name, the topology validator's rule: 1-15 (Linux's
// IFNAMSIZ) letters, digits, '_', '.' and '-', not "." or "..".
absl::Status CheckInterfaceName(absl::string_view field,
                                absl::string_view name);
// A lab as a caller names it to the controller: LAB or OWNER/LAB.
absl::Status CheckLabRef(absl::string_view field, absl::string_view ref);
// A lab as the controller names it to agents: emu::LabKey (LAB or
// OWNER+LAB).
absl::Status CheckLabKey(absl::string_view field, absl::string_view key);
// An image name (a directory under the agent's image root): 1-64 of
// [A-Za-z0-9_.-], not starting with '.' or '-' (the validator's rule);
// empty means the default.
absl::Status CheckImageName(absl::string_view field, absl::string_view image);
// A Debian package name (Debian Policy 5.6.1): 2-64 of [a-z0-9+.-], starting
// with a letter or digit.
absl::Status CheckPackageName(absl::string_view field, absl::string_view name);

// ControllerService, ExperimentService and UserService requests.
namespace controller {
absl::Status Check(const emu::v1::GetLabRequest& r);
absl::Status Check(const emu::v1::DestroyLabRequest& r);
absl::Status Check(const emu::v1::LabExecRequest& r);
absl::Status Check(const emu::v1::LabSetLinkParamsRequest& r);
absl::Status Check(const emu::v1::RemoveHostRequest& r);
absl::Status Check(const emu::v1::SetCommunityExportRequest& r);
absl::Status Check(const emu::v1::RunExperimentRequest& r);
absl::Status Check(const emu::v1::WatchExperimentRunRequest& r);
absl::Status Check(const emu::v1::CancelExperimentRunRequest& r);
absl::Status Check(const emu::v1::AddTasksRequest& r);
absl::Status Check(const emu::v1::AddUserRequest& r);
absl::Status Check(const emu::v1::RemoveUserRequest& r);
absl::Status Check(const emu::v1::RotateTokenRequest& r);
absl::Status Check(const emu::v1::ShareLabRequest& r);
absl::Status Check(const emu::v1::UnshareLabRequest& r);
absl::Status Check(const emu::v1::CaptureRequest& r);
absl::Status Check(const emu::v1::GetLabStatsRequest& r);
absl::Status Check(const emu::v1::ListImagesRequest& r);
// Also the agent's (hosts empty there).
absl::Status Check(const emu::v1::BuildImageRequest& r);
// ControllerService.Console (the first message) and RestartNode: the lab as
// the caller names it (LAB or OWNER/LAB).
absl::Status Check(const emu::v1::ConsoleInput& first);
absl::Status Check(const emu::v1::RestartNodeRequest& r);
}  // namespace controller

// AgentService and GuestService requests (lab keys).
namespace agent {
absl::Status Check(const emu::v1::ApplyLabRequest& r);
absl::Status Check(const emu::v1::SetLinkParamsRequest& r);
absl::Status Check(const emu::v1::ExecRequest& r);
absl::Status Check(const emu::v1::ListResourcesRequest& r);
absl::Status Check(const emu::v1::DestroyLabRequest& r);
absl::Status Check(const emu::v1::ConsoleInput& first);
absl::Status Check(const emu::v1::RestartNodeRequest& r);
absl::Status Check(const emu::v1::CaptureRequest& r);
absl::Status Check(const emu::v1::GetLabStatsRequest& r);
absl::Status Check(const emu::v1::BuildImageRequest& r);
}  // namespace agent

}  // namespace emu::request_names

#endif  // EMU_PROTO_REQUEST_NAMES_H_
