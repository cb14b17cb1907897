#include "server/core/utf8.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace convlab {
namespace {

TEST(Utf8, DecodesEveryLength) {
  auto r = utf8_decode("a\xc3\xa9\xe2\x94\x94\xf0\x9f\x98\x80");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, U"a\u00e9\u2514\U0001F600");
}

TEST(Utf8, RefusesBrokenInputNamingTheOffset) {
  struct Case {
    std::string in;
    std::string says;
  };
  const Case cases[] = {
      {"ab\x80", "lead byte at offset 2"},
      {"\xe2\x94", "truncated UTF-8 sequence at offset 0"},
      {"\xc0\xaf", "overlong"},
      {"\xed\xa0\x80", "surrogate"},
      {"\xf4\x90\x80\x80", "above U+10FFFF"},
      {"\xe2\x28\xa1", "continuation byte at offset 1"},
  };
  for (const auto& c : cases) {
    auto r = utf8_decode(c.in);
    ASSERT_FALSE(r.has_value()) << c.says;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
  }
}

RC_GTEST_PROP(Utf8, EncodeThenDecodeIsIdentity, ()) {
  const auto cps = *rc::gen::container<std::u32string>(rc::gen::oneOf(
      rc::gen::inRange<char32_t>(0, 0xd800), rc::gen::inRange<char32_t>(0xe000, 0x110000)));
  auto back = utf8_decode(utf8_encode(cps));
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == cps);
}

RC_GTEST_PROP(Utf8, ArbitraryBytesDecodeOrFailCleanly, (const std::string& s)) {
  auto r = utf8_decode(s);
  if (r) RC_ASSERT(utf8_encode(*r) == s);
}

}  // namespace
}  // namespace convlab
