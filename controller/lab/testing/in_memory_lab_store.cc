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
  labs_.erase(name);
  return absl::OkStatus();
}

int InMemoryLabStore::puts() const {
  absl::MutexLock lock(&mu_);
  return puts_;
}

}  // namespace emu::controller::lab
