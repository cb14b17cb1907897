// The NOTIFY payload codec (no database needed).
#include "server/pg/notification.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <variant>

namespace convlab::pg::detail {
namespace {

RC_GTEST_PROP(PgNotification, RecordsRoundTripInlineOrByReference, ()) {
  const auto node = *rc::gen::arbitrary<std::uint32_t>();
  const auto doc = *rc::gen::arbitrary<std::uint32_t>();
  const auto first = *rc::gen::inRange<std::uint64_t>(1, UINT64_MAX / 2);
  const auto commit_us = *rc::gen::arbitrary<std::int64_t>();
  const auto n = *rc::gen::inRange<std::size_t>(1, 40);
  std::vector<LogRecord> records;
  for (std::size_t i = 0; i < n; ++i) {
    LogRecord r;
    r.index = first + i;
    r.author = *rc::gen::arbitrary<std::uint32_t>();
    r.client_ms = *rc::gen::arbitrary<std::int64_t>();
    r.server_ms = *rc::gen::arbitrary<std::int64_t>();
    r.record = *rc::gen::container<Bytes>(*rc::gen::inRange<std::size_t>(0, 600), rc::gen::arbitrary<std::uint8_t>());
    records.push_back(std::move(r));
  }
  const std::string payload = encode_records(node, doc, first, commit_us, records);
  RC_ASSERT(payload.size() <= kNotifyBytesMax);
  auto decoded = decode_note(payload);
  RC_ASSERT(decoded.has_value());
  const auto* note = std::get_if<RecordsNote>(&*decoded);
  RC_ASSERT(note != nullptr);
  RC_ASSERT(note->node == node);
  RC_ASSERT(note->doc == doc);
  RC_ASSERT(note->first == first);
  RC_ASSERT(note->commit_us == commit_us);
  RC_ASSERT(note->count == n);
  std::size_t bytes = 0;
  for (const auto& r : records) bytes += r.record.size();
  // Inline whenever the records fit: at most 4/3 of their bytes plus a few per record.
  if (bytes * 4 / 3 + n * 60 + 64 < kNotifyBytesMax) RC_ASSERT(!note->reference);
  if (note->reference) {
    RC_ASSERT(note->records.empty());
  } else {
    RC_ASSERT(note->records.size() == n);
    for (std::size_t i = 0; i < n; ++i) {
      RC_ASSERT(note->records[i].index == first + i);
      RC_ASSERT(note->records[i].author == records[i].author);
      RC_ASSERT(note->records[i].client_ms == records[i].client_ms);
      RC_ASSERT(note->records[i].server_ms == records[i].server_ms);
      RC_ASSERT(note->records[i].record == records[i].record);
    }
  }
}

TEST(PgNotification, OneLargeRecordGoesByReference) {
  LogRecord big;
  big.record.assign(9000, 7);
  const std::string payload = encode_records(1, 2, 3, 4, std::span(&big, 1));
  EXPECT_EQ(payload[0], 'F');
  auto decoded = decode_note(payload);
  ASSERT_TRUE(decoded);
  const auto& note = std::get<RecordsNote>(*decoded);
  EXPECT_TRUE(note.reference);
  EXPECT_EQ(note.first, 3u);
  EXPECT_EQ(note.count, 1u);
}

TEST(PgNotification, RevocationRoundTrips) {
  auto decoded = decode_note(encode_revoked(42, "a \"token\" id"));
  ASSERT_TRUE(decoded);
  const auto& v = std::get<RevokedNote>(*decoded);
  EXPECT_EQ(v.user, 42u);
  EXPECT_EQ(v.jti, "a \"token\" id");
}

TEST(PgNotification, GarbageIsAnErrorNamingTheProblem) {
  const struct {
    std::string payload;
    const char* says;
  } cases[] = {
      {"", "empty"},
      {"Xabcd", "unknown kind"},
      {"Rabc", "multiple of 4"},
      {"Rab!d", "invalid base64"},
      {"RAAAAAAAA", "empty record range"},
  };
  for (const auto& c : cases) {
    auto d = decode_note(c.payload);
    ASSERT_FALSE(d) << c.payload;
    EXPECT_NE(d.error().message.find(c.says), std::string::npos) << c.payload << ": " << d.error().message;
  }
  // A valid payload cut short, or with bytes added, is refused.
  LogRecord r;
  r.record = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::string good = encode_records(1, 2, 3, 4, std::span(&r, 1));
  ASSERT_TRUE(decode_note(good));
  EXPECT_FALSE(decode_note(good.substr(0, good.size() - 4)));
  EXPECT_FALSE(decode_note(good + "AAAA"));
}

}  // namespace
}  // namespace convlab::pg::detail
