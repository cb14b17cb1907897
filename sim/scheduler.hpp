#pragma once
// The simulator's event loop: callbacks ordered by virtual time, ties broken first-scheduled
// first-run (FIFO by a sequence number), so a run is a pure function of what was scheduled.
//
// Built for speed (sim_bench measures it): a 4-ary heap holds small keys (time, sequence, slot) and
// the callbacks stay put in a slot table, so sifting moves 16 bytes, not a callable; callables
// whose captures fit kInline bytes are stored without a heap allocation.
#include "server/core/assert.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace convlab::sim {

// A move-only `void()` callable with a small-buffer of kInline bytes (larger ones go to the heap).
class Task {
 public:
  static constexpr std::size_t kInline = 128;

  Task() = default;
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, Task> && std::is_invocable_r_v<void, D&>>>
  Task(F&& f) {  // NOLINT(google-explicit-constructor): lambdas convert, as to std::function
    if constexpr (sizeof(D) <= kInline && alignof(D) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<D>) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &kInlineOps<D>;
    } else {
      *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
      ops_ = &kHeapOps<D>;
    }
  }
  Task(Task&& o) noexcept : ops_(o.ops_) {
    if (ops_ != nullptr) {
      ops_->move(o.buf_, buf_);
      o.ops_ = nullptr;
    }
  }
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_ != nullptr) {
        ops_->move(o.buf_, buf_);
        o.ops_ = nullptr;
      }
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  // REQUIRES: not empty.
  void operator()() { ops_->call(buf_); }
  void reset() {
    if (ops_ != nullptr) {
      ops_->destroy(buf_);
      ops_ = nullptr;
    }
  }

 private:
  struct Ops {
    void (*call)(unsigned char*);
    void (*move)(unsigned char* from, unsigned char* to);  // leaves `from` destroyed
    void (*destroy)(unsigned char*);
  };
  template <typename D>
  static D* inline_ptr(unsigned char* b) { return std::launder(reinterpret_cast<D*>(b)); }
  template <typename D>
  static D*& heap_ptr(unsigned char* b) { return *reinterpret_cast<D**>(b); }

  template <typename D>
  static constexpr Ops kInlineOps{
      [](unsigned char* b) { (*inline_ptr<D>(b))(); },
      [](unsigned char* from, unsigned char* to) {
        ::new (static_cast<void*>(to)) D(std::move(*inline_ptr<D>(from)));
        inline_ptr<D>(from)->~D();
      },
      [](unsigned char* b) { inline_ptr<D>(b)->~D(); }};
  template <typename D>
  static constexpr Ops kHeapOps{
      [](unsigned char* b) { (*heap_ptr<D>(b))(); },
      [](unsigned char* from, unsigned char* to) { heap_ptr<D>(to) = heap_ptr<D>(from); },
      [](unsigned char* b) { delete heap_ptr<D>(b); }};

  const Ops* ops_ = nullptr;
  alignas(std::max_align_t) unsigned char buf_[kInline];
};

class Scheduler {
 public:
  // Runs `f` at virtual time `t_us`, after everything already scheduled for that same time.
  // REQUIRES: t_us >= now_us().
  void at(std::int64_t t_us, Task f) {
    CONVLAB_ASSERT(t_us >= now_us_);
    std::uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<std::uint32_t>(tasks_.size());
      tasks_.push_back(std::move(f));
    } else {
      slot = free_.back();
      free_.pop_back();
      tasks_[slot] = std::move(f);
    }
    CONVLAB_ASSERT(slot <= kSlotMask);
    CONVLAB_ASSERT(next_seq_ < (std::uint64_t{1} << (64 - kSlotBits)));
    push(Key{t_us, (next_seq_++ << kSlotBits) | slot});
  }

  // Runs the earliest event if it is due at or before `end_us`; false when there is none.
  bool run_next(std::int64_t end_us) {
    if (heap_.empty() || heap_.front().t_us > end_us) return false;
    const Key k = pop();
    const auto slot = static_cast<std::uint32_t>(k.seq_slot & kSlotMask);
    // Moved out before running: the callback may schedule more (and reuse slots).
    Task t = std::move(tasks_[slot]);
    free_.push_back(slot);
    now_us_ = k.t_us;
    ++ran_;
    t();
    return true;
  }

  // Runs every event due at or before `end_us`, then sets the time to `end_us`.
  void run_until(std::int64_t end_us) {
    while (run_next(end_us)) {
    }
    now_us_ = std::max(now_us_, end_us);
  }

  // When the earliest pending event is due; the largest time when nothing is pending.
  std::int64_t next_us() const { return heap_.empty() ? std::numeric_limits<std::int64_t>::max() : heap_.front().t_us; }
  std::int64_t now_us() const { return now_us_; }
  std::uint64_t ran() const { return ran_; }
  std::size_t pending() const { return heap_.size(); }

 private:
  // The sequence number and the slot share one word: 40 bits of sequence (10^12 events) and 24
  // of slot (16 M events pending at once); both limits are asserted.
  static constexpr unsigned kSlotBits = 24;
  static constexpr std::uint64_t kSlotMask = (std::uint64_t{1} << kSlotBits) - 1;
  struct Key {
    std::int64_t t_us;
    std::uint64_t seq_slot;  // seq << kSlotBits | slot: comparing it compares seq
  };
  // Keys are unique (the sequence is), so any correct priority queue pops them in one order.
  static bool before(const Key& a, const Key& b) {
    return a.t_us != b.t_us ? a.t_us < b.t_us : a.seq_slot < b.seq_slot;
  }

  // A 4-ary min-heap: half the depth of a binary one, and a node's four children share a cache
  // line (4 x 16 bytes), so popping touches fewer lines.
  static constexpr std::size_t kArity = 4;
  void push(Key k) {
    std::size_t i = heap_.size();
    heap_.push_back(k);
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!before(k, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = k;
  }
  // REQUIRES: not empty.
  Key pop() {
    const Key top = heap_.front();
    const Key last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n == 0) return top;
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = i * kArity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = std::min(first + kArity, n);
      for (std::size_t c = first + 1; c < end; ++c) {
        if (before(heap_[c], heap_[best])) best = c;
      }
      if (!before(heap_[best], last)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = last;
    return top;
  }

  std::vector<Key> heap_;
  std::vector<Task> tasks_;
  std::vector<std::uint32_t> free_;
  std::int64_t now_us_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint64_t ran_ = 0;
};

}  // namespace convlab::sim
