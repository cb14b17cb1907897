#pragma once
// Small builders of hand-written histories for the checkers' tests (checkers_test.cpp,
// causes_test.cpp).
#include "reports/checkers.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace convlab::reports {

using history::Event;
using history::EventType;
using history::IdRun;

constexpr std::int64_t kMs = 1000;  // microseconds

// ---- Small builders for hand-written histories.

inline Event meta(std::int64_t heal_us, std::int64_t end_us) {
  Event e;
  e.type = EventType::kMeta;
  e.meta = {{"heal_us", std::to_string(heal_us)}, {"end_us", std::to_string(end_us)}};
  return e;
}

struct EditSpec {
  std::int64_t t_us = 0;
  std::uint32_t client = 0;
  std::uint32_t op = 0;
  std::int64_t clock_ms = 0;
  std::vector<IdRun> inserted{};
  std::vector<IdRun> deleted{};
  std::map<std::uint32_t, std::uint32_t> seen_ops{};
  std::uint32_t para = 0;
  std::uint32_t doc = 0;
  std::int32_t server = 0;
  bool stale_base = false;
};

inline Event edit(const EditSpec& s) {
  Event e;
  e.type = EventType::kEdit;
  e.t_us = s.t_us;
  e.client = s.client;
  e.doc = s.doc;
  e.op = s.op;
  e.server = s.server;
  e.clock_ms = s.clock_ms;
  e.para = s.para;
  e.inserted = s.inserted;
  e.deleted = s.deleted;
  for (const IdRun& r : s.inserted) e.ins += std::u32string(r.count, U'x');
  e.seen_ops = s.seen_ops;
  e.stale_base = s.stale_base;
  return e;
}

inline Event ack(std::int64_t t_us, std::uint32_t client, std::uint32_t op, std::uint32_t doc = 0) {
  Event e;
  e.type = EventType::kAck;
  e.t_us = t_us;
  e.client = client;
  e.op = op;
  e.doc = doc;
  return e;
}

inline Event seen(std::int64_t t_us, std::uint32_t client, std::uint32_t author, std::uint32_t op, std::int32_t server,
           std::uint32_t doc = 0) {
  Event e;
  e.type = EventType::kSeen;
  e.t_us = t_us;
  e.client = client;
  e.author = author;
  e.op = op;
  e.server = server;
  e.doc = doc;
  return e;
}

inline Event final_of(std::uint32_t doc, const std::string& replica, const std::u32string& text, std::vector<IdRun> ids) {
  Event e;
  e.type = EventType::kFinal;
  e.t_us = 100000 * kMs;
  e.doc = doc;
  e.replica = replica;
  e.text = text;
  e.ids = std::move(ids);
  return e;
}

inline Event fault(std::int64_t t_us, const std::string& kind) {
  Event e;
  e.type = EventType::kFault;
  e.t_us = t_us;
  e.kind = kind;
  return e;
}

inline Event counters(std::int64_t t_us, std::map<std::string, std::uint64_t> c) {
  Event e;
  e.type = EventType::kCounters;
  e.t_us = t_us;
  e.counters = std::move(c);
  return e;
}

}  // namespace convlab::reports
