// The title register's messages (server/core/protocol.hpp): a title is UTF-8 on the wire, as in
// its JSON form, so a rename or title whose bytes are not UTF-8 is refused at decoding (found by
// the frames_diff fuzz target, docs/fuzzing.md).
#include "server/core/protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace convlab {
namespace {

TEST(TitleCodec, RoundTripsUtf8Titles) {
  auto r = decode_rename(encode_rename(RenameMsg{2, "Plan \xe2\x9c\x93 \xf0\x9f\x98\x80"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->base, 2u);
  EXPECT_EQ(r->title, "Plan \xe2\x9c\x93 \xf0\x9f\x98\x80");
  auto t = decode_title(encode_title(TitleMsg{5, "caf\xc3\xa9", 1}));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->title, "caf\xc3\xa9");
}

TEST(TitleCodec, RefusesTitlesThatAreNotUtf8) {
  for (const std::string& bad : {std::string("\xb0\x94" "an"), std::string("\xc0\xaf"), std::string("x\xed\xa0\x80"),
                                std::string("\xe2\x9c")}) {
    auto r = decode_rename(encode_rename(RenameMsg{1, bad}));
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("title is not UTF-8"), std::string::npos) << r.error().message;
    EXPECT_FALSE(decode_title(encode_title(TitleMsg{1, bad, 0})).has_value()) << bad;
  }
}

}  // namespace
}  // namespace convlab
