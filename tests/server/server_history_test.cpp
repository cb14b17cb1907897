// The audit endpoints of the real convlab-server (docs/protocol.md, "History"): the change log
// as who, when, what and version, paged; the document as of a version, replayed from the log;
// a restore as a new edit that every connected client sees, the log only growing; the clear
// refusals (bad parameters, no log under persistence: snapshot). Real sockets, real PostgreSQL.
#include "tests/server/server_fixture.hpp"

#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

namespace convlab::test {
namespace {

HttpAnswer get(unsigned short port, const std::string& target, const std::string& token) {
  return http_request(port, http::verb::get, target, {}, token);
}

// Every entry of doc's history, walked a page of `limit` at a time through next_after.
json::array whole_history(unsigned short port, const std::string& token, std::uint32_t doc, int limit) {
  json::array all;
  std::uint64_t after = 0;
  for (int pages = 0; pages < 1000; ++pages) {
    HttpAnswer a = get(port, "/api/documents/" + std::to_string(doc) + "/history?after=" + std::to_string(after) +
                                 "&limit=" + std::to_string(limit),
                       token);
    EXPECT_EQ(a.status, 200) << a.body;
    if (a.status != 200) return all;
    json::value v = a.json();
    const json::array& entries = v.at("entries").as_array();
    EXPECT_LE(entries.size(), static_cast<std::size_t>(limit));
    for (const auto& e : entries) all.push_back(e);
    if (v.at("next_after").is_null()) return all;
    after = v.at("next_after").to_number<std::uint64_t>();
  }
  ADD_FAILURE() << "history never ended";
  return all;
}

std::uint64_t latest(unsigned short port, const std::string& token, std::uint32_t doc) {
  HttpAnswer a = get(port, "/api/documents/" + std::to_string(doc) + "/history?limit=1", token);
  EXPECT_EQ(a.status, 200) << a.body;
  return a.status == 200 ? a.json().at("latest").to_number<std::uint64_t>() : 0;
}

std::string text_at(unsigned short port, const std::string& token, std::uint32_t doc, std::uint64_t version) {
  HttpAnswer a = get(port, "/api/documents/" + std::to_string(doc) + "?version=" + std::to_string(version), token);
  EXPECT_EQ(a.status, 200) << a.body;
  if (a.status != 200) return "<" + std::to_string(a.status) + ">";
  EXPECT_EQ(a.json().at("version").to_number<std::uint64_t>(), version);
  return std::string(a.json().at("text").as_string());
}

class History : public ::testing::TestWithParam<std::string> {};

// Alice writes, Bob writes; the history names them, in log order, every version once, the same
// whatever the page size; each version's text is what the editors saw then; Bob restores the
// first version: both editors see it, the log keeps every earlier record and grows by Bob's.
TEST_P(History, PagedVersionsRestore) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy(GetParam());
  START_SERVER(server, yaml_for(url, GetParam()));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  auto bob = login(port, "bob", "bob-pw");
  ASSERT_TRUE(alice && bob);
  constexpr std::uint32_t kDoc = 5;
  Editor a(port, *alice, s, kDoc);
  Editor b(port, *bob, s, kDoc);
  ASSERT_TRUE(a.open());
  ASSERT_TRUE(b.open());
  EXPECT_EQ(latest(port, alice->token, kDoc), 0u);
  EXPECT_EQ(text_at(port, alice->token, kDoc, 0), "");

  a.insert(0, U"hello");
  ASSERT_TRUE(a.sync());
  const std::uint64_t v1 = latest(port, alice->token, kDoc);
  ASSERT_GE(v1, 1u);
  a.insert(5, U" world");
  ASSERT_TRUE(a.sync());
  ASSERT_TRUE(b.wait_text(U"hello world"));
  const std::uint64_t v2 = latest(port, alice->token, kDoc);
  b.insert(0, U">> ");
  ASSERT_TRUE(b.sync());
  ASSERT_TRUE(a.wait_text(U">> hello world"));
  const std::uint64_t v3 = latest(port, alice->token, kDoc);
  ASSERT_LT(v1, v2);
  ASSERT_LT(v2, v3);

  EXPECT_EQ(text_at(port, bob->token, kDoc, v1), "hello");
  EXPECT_EQ(text_at(port, bob->token, kDoc, v2), "hello world");
  EXPECT_EQ(text_at(port, bob->token, kDoc, v3), ">> hello world");

  const json::array full = whole_history(port, alice->token, kDoc, 1000);
  ASSERT_EQ(full.size(), v3);
  for (std::size_t i = 0; i < full.size(); ++i) {
    const json::object& e = full[i].as_object();
    EXPECT_EQ(e.at("version").to_number<std::uint64_t>(), i + 1);
    const bool by_alice = i + 1 <= v2;
    EXPECT_EQ(e.at("user").as_string(), by_alice ? "alice" : "bob") << "version " << i + 1;
    EXPECT_EQ(e.at("user_id").to_number<std::uint64_t>(), by_alice ? alice->user : bob->user);
    EXPECT_EQ(e.at("author").to_number<std::uint64_t>(), by_alice ? alice->agent : bob->agent);
    EXPECT_GT(e.at("server_ms").to_number<std::int64_t>(), 1'700'000'000'000);
    EXPECT_TRUE(e.contains("record"));
  }
  EXPECT_EQ(whole_history(port, alice->token, kDoc, 1), full);
  EXPECT_EQ(whole_history(port, alice->token, kDoc, 2), full);

  // The restore: a new edit by Bob, seen by both editors, the log only growing.
  HttpAnswer r = http_request(port, http::verb::post, "/api/documents/5/restore?version=" + std::to_string(v1), {},
                              bob->token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("text").as_string(), "hello");
  EXPECT_EQ(r.json().at("changed").as_bool(), true);
  ASSERT_TRUE(a.wait_text(U"hello"));
  ASSERT_TRUE(b.wait_text(U"hello"));
  EXPECT_EQ(document_text(port, alice->token, kDoc), "hello");
  const std::uint64_t v4 = latest(port, alice->token, kDoc);
  ASSERT_GT(v4, v3);
  EXPECT_EQ(text_at(port, alice->token, kDoc, v4), "hello");
  const json::array after = whole_history(port, alice->token, kDoc, 1000);
  ASSERT_EQ(after.size(), v4);
  for (std::size_t i = 0; i < full.size(); ++i) EXPECT_EQ(after[i], full[i]) << "version " << i + 1 << " rewritten";
  for (std::size_t i = full.size(); i < after.size(); ++i) {
    EXPECT_EQ(after[i].at("user").as_string(), "bob");
    EXPECT_EQ(after[i].at("author").to_number<std::uint64_t>(), r.json().at("agent").to_number<std::uint64_t>());
    EXPECT_NE(after[i].at("author").to_number<std::uint64_t>(), bob->agent);  // its own agent id
  }
  // The editors go on editing on top of the restore (not under lww: the test's editors stamp
  // their writes with clock 1000, the restore with the server's clock, which wins).
  if (!s.orders_by_client_clock) {
    a.insert(5, U"!");
    ASSERT_TRUE(a.sync());
    ASSERT_TRUE(b.wait_text(U"hello!"));
  }
  // Restoring the version that is already the text changes nothing and writes nothing.
  const std::uint64_t v5 = latest(port, alice->token, kDoc);
  r = http_request(port, http::verb::post, "/api/documents/5/restore?version=" + std::to_string(v5), {}, alice->token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("changed").as_bool(), false);
  EXPECT_EQ(latest(port, alice->token, kDoc), v5);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

INSTANTIATE_TEST_SUITE_P(Strategies, History, ::testing::Values("lww", "seq", "ot", "crdt"));

// Every refusal says what was wrong.
TEST(HistoryRefusals, BadParametersAndRoutes) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  auto e = acknowledged(port, *alice, 2, U"abc");
  const std::string t = alice->token;
  const auto status_and_error = [&](http::verb m, const std::string& target, const std::string& token) {
    HttpAnswer a = http_request(port, m, target, {}, token);
    std::string err;
    if (a.status != 200) err = std::string(a.json().at("error").as_string());
    return std::make_pair(a.status, err);
  };
  const auto expect = [&](http::verb m, const std::string& target, int status, const std::string& says,
                          const std::string& token) {
    auto [got, err] = status_and_error(m, target, token);
    EXPECT_EQ(got, status) << target << ": " << err;
    EXPECT_NE(err.find(says), std::string::npos) << target << ": '" << err << "' does not say '" << says << "'";
  };
  const auto g = http::verb::get;
  const auto p = http::verb::post;
  expect(g, "/api/documents/2/history?limit=0", 400, "'limit' must be in [1, 1000]", t);
  expect(g, "/api/documents/2/history?limit=1001", 400, "'limit' must be in [1, 1000]", t);
  expect(g, "/api/documents/2/history?after=x", 400, "'after' must be a whole number", t);
  expect(g, "/api/documents/2/history?after=-1", 400, "'after' must be a whole number", t);
  expect(g, "/api/documents/2/history?after=1&after=2", 400, "'after' given twice", t);
  expect(g, "/api/documents/2/history?page=2", 400, "unknown query parameter 'page' (known: after, limit)", t);
  expect(g, "/api/documents/2?version=abc", 400, "'version' must be a whole number", t);
  expect(g, "/api/documents/2?v=1", 400, "unknown query parameter 'v' (known: version)", t);
  expect(g, "/api/documents/2?version=99", 404, "version 99 of document 2 does not exist: its log has 1 records", t);
  expect(p, "/api/documents/2/restore", 400, "restore needs the query parameter 'version'", t);
  expect(p, "/api/documents/2/restore?version=99", 404, "version 99 of document 2 does not exist", t);
  expect(p, "/api/documents/2", 405, "only /restore takes a POST", t);
  expect(g, "/api/documents/2/restore?version=0", 405, "/restore takes a POST", t);
  expect(g, "/api/documents/2/blame", 404, "/history and /restore", t);
  expect(g, "/api/documents/x/history", 400, "document id must be an integer", t);
  expect(g, "/api/documents/2/history", 401, "token missing", "");
  expect(p, "/api/documents/2/restore?version=0", 401, "token missing", "");
  // Nothing above wrote anything: the log still holds the one edit, the text is the same.
  HttpAnswer h = http_request(port, g, "/api/documents/2/history", {}, t);
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(h.json().at("latest").to_number<std::uint64_t>(), 1u);
  EXPECT_TRUE(h.json().at("next_after").is_null());
  EXPECT_EQ(document_text(port, t, 2), "abc");
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

// persistence: snapshot keeps no log: no history, no versions, no restore, and it says why.
TEST(HistoryRefusals, SnapshotPersistenceHasNoLog) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt", "policies:\n  persistence: snapshot\n"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  for (const auto& [m, target] : {std::pair{http::verb::get, std::string("/api/documents/2/history")},
                                  std::pair{http::verb::get, std::string("/api/documents/2?version=0")},
                                  std::pair{http::verb::post, std::string("/api/documents/2/restore?version=0")}}) {
    HttpAnswer a = http_request(port, m, target, {}, alice->token);
    EXPECT_EQ(a.status, 409) << target << ": " << a.body;
    EXPECT_EQ(a.json().at("reason").as_string(), "no_change_log") << target;
    EXPECT_NE(std::string(a.json().at("error").as_string()).find("persistence: snapshot keeps no change log"),
              std::string::npos)
        << target;
  }
  // The plain read still works.
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/2", {}, alice->token).status, 200);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

}  // namespace
}  // namespace convlab::test
