// FakeLinkEngine: a LinkEngine that moves no frames. It records what the
// agent asked (links with their fds, specs and seeds; updates; removals),
// closes the fds it was given as the real one does, can refuse the next
// AddLink or Update, and reports the counters a test gives a link
// (SetStats; zeros otherwise).
//
// Thread-safe. testonly.
#ifndef EMU_AGENT_IMPAIR_TESTING_FAKE_LINK_ENGINE_H_
#define EMU_AGENT_IMPAIR_TESTING_FAKE_LINK_ENGINE_H_

#include <unistd.h>

#include <map>
#include <optional>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "linkemu/impair/link_engine.h"

namespace emu::agent::impair {

class FakeLinkEngine : public linkemu::LinkEngine {
 public:
  struct Link {
    int tap_a = -1;
    int tap_b = -1;
    linkemu::ImpairmentSpec a_to_b;
    linkemu::ImpairmentSpec b_to_a;
    uint64_t seed = 0;
    int updates = 0;
    linkemu::LinkStats stats;  // what GetStats reports
  };

  ~FakeLinkEngine() override {
    for (auto& [id, l] : links_) CloseFds(l);
  }

  absl::StatusOr<LinkId> AddLink(int tap_a, int tap_b,
                                 const linkemu::ImpairmentSpec& a_to_b,
                                 const linkemu::ImpairmentSpec& b_to_a,
                                 uint64_t seed) override {
    absl::MutexLock lock(&mu_);
    ++adds_;
    if (fail_next_add_) {
      fail_next_add_ = false;
      close(tap_a);
      close(tap_b);
      return absl::InvalidArgumentError("injected: cannot serve the spec");
    }
    LinkId id = next_id_++;
    links_[id] = Link{tap_a, tap_b, a_to_b, b_to_a, seed, 0, {}};
    return id;
  }

  absl::Status Update(LinkId id, const linkemu::ImpairmentSpec& a_to_b,
                      const linkemu::ImpairmentSpec& b_to_a) override {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(id);
    if (it == links_.end()) return absl::NotFoundError("no such link");
    it->second.a_to_b = a_to_b;
    it->second.b_to_a = b_to_a;
    ++it->second.updates;
    return absl::OkStatus();
  }

  void RemoveLink(LinkId id) override {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(id);
    if (it == links_.end()) return;
    CloseFds(it->second);
    links_.erase(it);
    ++removes_;
  }

  std::optional<linkemu::LinkStats> GetStats(LinkId id) override {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(id);
    if (it == links_.end()) return std::nullopt;
    return it->second.stats;
  }

  // ---- Inspection ----
  std::map<LinkId, Link> links() {
    absl::MutexLock lock(&mu_);
    return links_;
  }
  int adds() {
    absl::MutexLock lock(&mu_);
    return adds_;
  }
  int removes() {
    absl::MutexLock lock(&mu_);
    return removes_;
  }
  // What GetStats reports for link `id` from now on (no-op when unknown).
  void SetStats(LinkId id, const linkemu::LinkStats& stats) {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(id);
    if (it != links_.end()) it->second.stats = stats;
  }
  void FailNextAdd() {
    absl::MutexLock lock(&mu_);
    fail_next_add_ = true;
  }

 private:
  static void CloseFds(const Link& l) {
    close(l.tap_a);
    close(l.tap_b);
  }
  absl::Mutex mu_;
  std::map<LinkId, Link> links_ ABSL_GUARDED_BY(mu_);
  LinkId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  int adds_ ABSL_GUARDED_BY(mu_) = 0;
  int removes_ ABSL_GUARDED_BY(mu_) = 0;
  bool fail_next_add_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace emu::agent::impair

#endif  // EMU_AGENT_IMPAIR_TESTING_FAKE_LINK_ENGINE_H_
