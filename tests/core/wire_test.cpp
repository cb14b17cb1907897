#include "server/core/wire.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace convlab {
namespace {

TEST(Wire, RoundTripsEveryFieldKind) {
  Writer w;
  w.u8(7);
  w.varint(0);
  w.varint(127);
  w.varint(128);
  w.varint(UINT64_MAX);
  w.svarint(-1);
  w.svarint(INT64_MIN);
  w.text(U"h\u00e9llo \U0001F600");
  w.bytes(Bytes{1, 2, 3});
  const Bytes b = w.take();
  Reader r(b);
  EXPECT_EQ(r.u8(), 7);
  EXPECT_EQ(r.varint(), 0u);
  EXPECT_EQ(r.varint(), 127u);
  EXPECT_EQ(r.varint(), 128u);
  EXPECT_EQ(r.varint(), UINT64_MAX);
  EXPECT_EQ(r.svarint(), -1);
  EXPECT_EQ(r.svarint(), INT64_MIN);
  EXPECT_EQ(r.text(), U"h\u00e9llo \U0001F600");
  EXPECT_EQ(r.bytes(), (Bytes{1, 2, 3}));
  EXPECT_TRUE(r.finish().has_value());
}

TEST(Wire, TruncationIsAnErrorNamingTheOffset) {
  Writer w;
  w.text(U"hello");
  Bytes b = w.take();
  b.pop_back();
  Reader r(b);
  EXPECT_TRUE(r.text().empty());
  auto f = r.finish();
  ASSERT_FALSE(f.has_value());
  EXPECT_NE(f.error().message.find("at byte 1: text of 5 bytes"), std::string::npos) << f.error().message;
  EXPECT_NE(f.error().message.find("runs past the end"), std::string::npos) << f.error().message;
}

TEST(Wire, HugeLengthIsRefusedWithoutAllocating) {
  Writer w;
  w.varint(UINT64_MAX / 2);
  const Bytes b = w.take();
  Reader r(b);
  EXPECT_TRUE(r.bytes().empty());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("above its limit"), std::string::npos) << r.error().message;
}

TEST(Wire, OverlongVarintIsRefused) {
  const Bytes b(11, 0xff);
  Reader r(b);
  r.varint();
  EXPECT_FALSE(r.ok());
}

TEST(Wire, InvalidUtf8InTextIsRefused) {
  const Bytes b{2, 0xc0, 0x80};  // overlong NUL
  Reader r(b);
  r.text();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("overlong"), std::string::npos) << r.error().message;
}

TEST(Wire, TrailingBytesAreAnError) {
  const Bytes b{1, 2};
  Reader r(b);
  r.u8();
  EXPECT_FALSE(r.finish().has_value());
}

TEST(Wire, FirstErrorIsKept) {
  const Bytes b{};
  Reader r(b);
  r.u8();
  const std::string first = r.error().message;
  r.text();
  EXPECT_EQ(r.error().message, first);
}

RC_GTEST_PROP(Wire, VarintsRoundTrip, (std::uint64_t u, std::int64_t s)) {
  Writer w;
  w.varint(u);
  w.svarint(s);
  const Bytes b = w.take();
  Reader r(b);
  RC_ASSERT(r.varint() == u);
  RC_ASSERT(r.svarint() == s);
  RC_ASSERT(r.finish().has_value());
}

RC_GTEST_PROP(Wire, ArbitraryBytesNeverCrashTheReader, (const std::vector<std::uint8_t>& b)) {
  Reader r(b);
  while (r.ok() && !r.at_end()) {
    switch (r.u8() % 4) {
      case 0: r.varint(); break;
      case 1: r.svarint(); break;
      case 2: r.text(); break;
      default: r.bytes(); break;
    }
  }
  RC_ASSERT(r.offset() <= b.size());
}

}  // namespace
}  // namespace convlab
