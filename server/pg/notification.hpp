#pragma once
// What the store publishes with NOTIFY, as text (a NOTIFY payload must be text shorter than
// 8000 bytes). Internal to convlab_pg; declared here so tests can hold the codec to its word.
//
//   'R' + base64(header, records)  the committed records of one document, when they fit;
//   'F' + base64(header)           a reference: the listener reads records first..first+count-1;
//   'V' + base64(user, jti)        a revoked token id.
// header = node, doc, first index, commit time (µs since the epoch, the committing store's
// clock), record count; record = author, client_ms, server_ms, length, bytes. Integers are
// LEB128 varints (signed ones zigzag-encoded), so a typical edit costs a few dozen bytes.
#include "server/core/node.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace convlab::pg::detail {

// Longest payload the store sends; PostgreSQL refuses 8000 bytes and more.
inline constexpr std::size_t kNotifyBytesMax = 7999;

struct RecordsNote {
  std::uint32_t node = 0;
  std::uint32_t doc = 0;
  std::uint64_t first = 0;
  std::int64_t commit_us = 0;
  std::uint64_t count = 0;
  bool reference = false;          // true: `records` is empty, read them from the log
  std::vector<LogRecord> records;  // indexes first, first + 1, ...
};

struct RevokedNote {
  std::uint32_t user = 0;
  std::string jti;
};

// The inline form when it fits in `max_bytes`, else the reference form. The Redis bus
// (server/net/redis_bus.hpp) carries the same notes with no limit of NOTIFY's: always inline.
std::string encode_records(std::uint32_t node, std::uint32_t doc, std::uint64_t first, std::int64_t commit_us,
                           std::span<const LogRecord> records, std::size_t max_bytes = kNotifyBytesMax);
std::string encode_revoked(std::uint32_t user, std::string_view jti);

// Either note, or an Error naming what is wrong with the payload.
Result<std::variant<RecordsNote, RevokedNote>> decode_note(std::string_view payload);

}  // namespace convlab::pg::detail
