#include "linkemu/impair/frame_pool.h"

namespace emu::linkemu {

HeldFrame* FramePool::Get(size_t len) {
  if (len > kLargestBytes) return nullptr;
  int c = 0;
  size_t cap = kSmallestBytes;
  while (cap < len) {
    cap <<= 1;
    ++c;
  }
  if (!free_[c].empty()) {
    HeldFrame* f = free_[c].back();
    free_[c].pop_back();
    f->len = static_cast<uint32_t>(len);
    f->reordered = false;
    return f;
  }
  auto b = std::make_unique<Buffer>();
  b->bytes.reset(new char[cap]);
  b->frame.data = b->bytes.get();
  b->frame.cap = static_cast<uint32_t>(cap);
  b->frame.size_class = static_cast<uint8_t>(c);
  b->frame.len = static_cast<uint32_t>(len);
  owned_bytes_ += cap;
  HeldFrame* f = &b->frame;
  all_.push_back(std::move(b));
  // Reserve the free list's room now, so Put never allocates.
  free_[c].reserve(all_.size());
  return f;
}

void FramePool::Put(HeldFrame* f) { free_[f->size_class].push_back(f); }

}  // namespace emu::linkemu
