// ThreadSanitizer and Debian's Abseil: libabsl_synchronization is not built
// with -fsanitize=thread, so TSAN cannot see absl::Mutex synchronise and
// reports every access to Mutex-guarded data from two threads as a race.
// Linked into the tests of `--config=tsan` only (//third_party:gtest_main),
// this file interposes absl::Mutex's and absl::CondVar's out-of-line
// functions (the executable's definitions win over the shared library's),
// calls the library's own through dlsym(RTLD_NEXT), and tells TSAN about the
// happens-before edges: release before unlocking (or waiting), acquire after
// locking (or waking). Reader locks count as full locks (it can only hide a
// write made under a reader lock, a bug TSAN would not catch here anyway).
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

template <typename Fn>
Fn Real(const char* mangled) {
  void* p = dlsym(RTLD_NEXT, mangled);
  if (p == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found in libabsl\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(p);
}

using Cond = const absl::Condition&;

// absl evaluates a waiter's condition while it holds the mutex inside the
// library (before the call returns to us): the wrapper acquires first, so
// the condition's reads see the writes made under the lock.
struct Annotated {
  const absl::Condition* cond;
  absl::Mutex* mu;
  // Another thread (the one unlocking) may evaluate it: `a` itself was
  // published by the waiter's release on it.
  static bool Eval(Annotated* a) {
    __tsan_acquire(a);
    __tsan_acquire(a->mu);
    const bool holds = a->cond->Eval();
    // Evaluated under the mutex, which a waiter may release right after
    // (inside the library): its reads happen before the next locker's.
    __tsan_release(a->mu);
    return holds;
  }
};
// The Itanium C++ ABI passes `this` as the first argument.
#define EMU_REAL(type, mangled)                 \
  static const auto real = Real<type>(mangled); \
  (void)0

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  EMU_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  EMU_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  EMU_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  EMU_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  EMU_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  EMU_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(Cond c) {
  EMU_REAL(void (*)(Mutex*, Cond),
           "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  real(this, wrapped);
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(Cond c) {
  EMU_REAL(void (*)(Mutex*, Cond),
           "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  real(this, wrapped);
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(Cond c, absl::Duration d) {
  EMU_REAL(bool (*)(Mutex*, Cond, absl::Duration),
           "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_"
           "8DurationE");
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  const bool r = real(this, wrapped, d);
  __tsan_acquire(this);
  return r;
}

bool Mutex::LockWhenWithDeadline(Cond c, absl::Time t) {
  EMU_REAL(bool (*)(Mutex*, Cond, absl::Time),
           "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_"
           "4TimeE");
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  const bool r = real(this, wrapped, t);
  __tsan_acquire(this);
  return r;
}

bool Mutex::ReaderLockWhenWithTimeout(Cond c, absl::Duration d) {
  EMU_REAL(bool (*)(Mutex*, Cond, absl::Duration),
           "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_"
           "9ConditionENS0_8DurationE");
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  const bool r = real(this, wrapped, d);
  __tsan_acquire(this);
  return r;
}

bool Mutex::ReaderLockWhenWithDeadline(Cond c, absl::Time t) {
  EMU_REAL(bool (*)(Mutex*, Cond, absl::Time),
           "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_"
           "9ConditionENS0_4TimeE");
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  const bool r = real(this, wrapped, t);
  __tsan_acquire(this);
  return r;
}

void Mutex::Await(Cond c) {
  EMU_REAL(void (*)(Mutex*, Cond),
           "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  real(this, wrapped);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(Cond c, absl::Duration d) {
  EMU_REAL(bool (*)(Mutex*, Cond, absl::Duration),
           "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_"
           "8DurationE");
  __tsan_release(this);
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  const bool r = real(this, wrapped, d);
  __tsan_acquire(this);
  return r;
}

bool Mutex::AwaitWithDeadline(Cond c, absl::Time t) {
  EMU_REAL(bool (*)(Mutex*, Cond, absl::Time),
           "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_"
           "4TimeE");
  __tsan_release(this);
  Annotated a{&c, this};
  __tsan_release(&a);
  const absl::Condition wrapped(&Annotated::Eval, &a);
  const bool r = real(this, wrapped, t);
  __tsan_acquire(this);
  return r;
}

void CondVar::Wait(Mutex* mu) {
  EMU_REAL(void (*)(CondVar*, Mutex*),
           "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration d) {
  EMU_REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
           "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_"
           "8DurationE");
  __tsan_release(mu);
  const bool r = real(this, mu, d);
  __tsan_acquire(mu);
  return r;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time t) {
  EMU_REAL(bool (*)(CondVar*, Mutex*, absl::Time),
           "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool r = real(this, mu, t);
  __tsan_acquire(mu);
  return r;
}

ABSL_NAMESPACE_END
}  // namespace absl
