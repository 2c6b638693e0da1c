// The guest images of one host: what is under the agent's image directory
// (--image_dir, one directory per image with its image.conf), and building
// one with a recipe carried in the agent (deploy/images/image_recipes.h).
//
// Thread-safe; one build at a time.
#ifndef EMU_AGENT_GUEST_IMAGE_STORE_H_
#define EMU_AGENT_GUEST_IMAGE_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/process_launcher.h"
#include "proto/agent.pb.h"

namespace emu::agent::guest {

class ImageStore {
 public:
  struct Options {
    std::string image_root = "/var/lib/emu/images";
    // A Debian image downloads a few hundred packages.
    absl::Duration build_timeout = absl::Minutes(40);
    std::string shell = "bash";  // runs the recipe, read from its stdin
    // The network namespace the recipe runs in (it downloads from Debian's
    // archive): a path such as /proc/1/ns/net; empty = the agent's own. A
    // local cluster's agents, in namespaces of emulated hosts with no
    // route out, use the machine's (emu-agent --netns).
    std::string build_netns;
  };

  ImageStore(std::string host, ProcessLauncher* launcher, Options options);

  // Every image directory (sorted by name; dot-directories, which are builds
  // in progress, skipped), with `problem` set for one that cannot boot.
  absl::StatusOr<std::vector<emu::v1::GuestImageInfo>> List() const;

  // Runs the recipe into <image_root>/<name> (the recipe itself says "up to
  // date" and builds nothing when it is). Names and package names are
  // checked by the caller (proto/request_names); the recipe here.
  absl::StatusOr<emu::v1::BuildImageResponse> Build(
      const emu::v1::BuildImageRequest& request);

 private:
  const std::string host_;
  ProcessLauncher* const launcher_;
  const Options options_;
  absl::Mutex build_mu_;
};

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_IMAGE_STORE_H_
