// Guest images across the cluster (`emuctl image ls|build`): asks every
// host's agent (or the hosts a request names) at once and gathers the
// answers, naming the hosts that did not answer or failed.
//
// Stateless functions over a HostRegistry; thread-safe.
#ifndef EMU_CONTROLLER_HOSTS_GUEST_IMAGES_H_
#define EMU_CONTROLLER_HOSTS_GUEST_IMAGES_H_

#include <functional>

#include "absl/status/statusor.h"
#include "controller/hosts/host_registry.h"
#include "proto/controller.pb.h"

namespace emu::controller::hosts {

// Every image of every asked host, in host order. A host that does not
// answer is listed in `unreachable`; NOT_FOUND names a host the registry
// does not know.
absl::StatusOr<emu::v1::ListImagesResponse> ListGuestImages(
    HostRegistry& hosts, const emu::v1::ListImagesRequest& request);

// Builds on every asked host in parallel: STARTED per host, then DONE or
// FAILED as each ends. OK when every host built it or found it up to date;
// otherwise the status of the first failing host (in host order), saying on
// how many hosts it was built.
absl::Status BuildGuestImage(
    const HostRegistry& hosts, const emu::v1::BuildImageRequest& request,
    const std::function<void(const emu::v1::BuildImageEvent&)>& push);

}  // namespace emu::controller::hosts

#endif  // EMU_CONTROLLER_HOSTS_GUEST_IMAGES_H_
