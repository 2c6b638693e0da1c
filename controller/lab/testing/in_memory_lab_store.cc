#include "controller/lab/testing/in_memory_lab_store.h"

#include "absl/strings/str_cat.h"

namespace emu::controller::lab {

absl::Status InMemoryLabStore::Put(const emu::v1::Lab& lab) {
  if (lab.name().empty()) {
    return absl::InvalidArgumentError(
        "lab store (memory): put: lab without a name");
  }
  absl::MutexLock lock(&mu_);
  ++puts_;
  const bool state_matches =
      put_fail_state_ == emu::v1::LAB_STATE_UNSPECIFIED ||
      put_fail_state_ == lab.state();
  if (!put_error_.ok() && put_failures_left_ != 0 && state_matches) {
    if (put_failures_left_ > 0) --put_failures_left_;
    ++failed_puts_;
    return absl::Status(put_error_.code(),
                        absl::StrCat("lab store (memory): put ", lab.name(),
                                     ": ", put_error_.message()));
  }
  labs_[lab.name()] = lab;
  return absl::OkStatus();
}

absl::StatusOr<emu::v1::Lab> InMemoryLabStore::Get(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = labs_.find(name);
  if (it == labs_.end()) {
    return absl::NotFoundError(absl::StrCat("lab ", name, ": not found"));
  }
  return it->second;
}

absl::StatusOr<std::vector<emu::v1::Lab>> InMemoryLabStore::List() {
  absl::MutexLock lock(&mu_);
  std::vector<emu::v1::Lab> labs;
  for (const auto& [name, lab] : labs_) labs.push_back(lab);
  return labs;
}

absl::Status InMemoryLabStore::Delete(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (!delete_error_.ok()) {
    return absl::Status(delete_error_.code(),
                        absl::StrCat("lab store (memory): delete ", name, ": ",
                                     delete_error_.message()));
  }
  labs_.erase(name);
  return absl::OkStatus();
}

int InMemoryLabStore::puts() const {
  absl::MutexLock lock(&mu_);
  return puts_;
}

}  // namespace emu::controller::lab

namespace emu::controller::lab {

void InMemoryLabStore::FailPuts(absl::Status status, int times,
                                emu::v1::LabState state) {
  absl::MutexLock lock(&mu_);
  put_error_ = std::move(status);
  put_failures_left_ = put_error_.ok() ? 0 : times;
  put_fail_state_ = state;
}

void InMemoryLabStore::FailDeletes(absl::Status status) {
  absl::MutexLock lock(&mu_);
  delete_error_ = std::move(status);
}

int InMemoryLabStore::failed_puts() const {
  absl::MutexLock lock(&mu_);
  return failed_puts_;
}

}  // namespace emu::controller::lab
