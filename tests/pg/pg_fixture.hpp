#pragma once
// Helpers for tests against a real PostgreSQL: a fresh database per test (so tests never see
// each other's rows or notifications), and a collector for what a Store reports from its
// threads.
#include "server/pg/store.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace convlab::pg::test {

inline std::optional<std::string> base_url() {
  const char* url = std::getenv("CONVLAB_PG_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

// `url` with its database replaced by `db` (a postgresql:// URI, or a key=value string).
inline std::string with_database(const std::string& url, const std::string& db) {
  if (url.rfind("postgres", 0) == 0 && url.find("://") != std::string::npos) {
    const auto query = url.find('?');
    const std::string head = url.substr(0, query);
    const std::string tail = query == std::string::npos ? "" : url.substr(query);
    const auto authority = head.find("://") + 3;
    const auto slash = head.find('/', authority);
    return (slash == std::string::npos ? head : head.substr(0, slash)) + "/" + db + tail;
  }
  return url + " dbname=" + db;
}

// A new, empty database named after the test; dropped first if a previous run left it.
inline std::string fresh_database(const std::string& url) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string db = std::string("t_") + info->test_suite_name() + "_" + info->name();
  for (char& c : db) c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_');
  if (db.size() > 63) {
    // PostgreSQL keeps 63 bytes of a name: long test names (parameterised ones differ only at
    // the end) keep their head plus a hash of the whole name, so each stays its own database.
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (const char ch : db) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    db = db.substr(0, 63 - 17) + "_" + hex;
  }
  pqxx::connection c(url);
  pqxx::nontransaction n(c);
  n.exec("DROP DATABASE IF EXISTS " + n.quote_name(db) + " WITH (FORCE)");
  n.exec("CREATE DATABASE " + n.quote_name(db));
  return with_database(url, db);
}

#define CONVLAB_PG_URL_OR_SKIP(var)                                                           \
  const auto var##_base = ::convlab::pg::test::base_url();                                    \
  if (!var##_base) GTEST_SKIP() << "CONVLAB_PG_URL is not set (scripts/test.sh starts a throwaway PostgreSQL)"; \
  const std::string var = ::convlab::pg::test::fresh_database(*var##_base)

// Everything a Store reports, guarded; wait_until blocks (bounded) until a condition holds.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::uint64_t, StoreReply> replies;
  std::vector<std::uint64_t> reply_order;
  std::map<std::uint32_t, std::vector<LogRecord>> heard;  // doc -> records, in arrival order
  std::vector<std::pair<std::string, std::uint32_t>> revoked;
  std::vector<std::size_t> commits;  // appends per commit
  std::vector<std::pair<bool, std::string>> health;
  std::size_t lags = 0;

  StoreHooks hooks() {
    StoreHooks h;
    h.reply = [this](StoreReply r) { add([&] { reply_order.push_back(r.id); replies[r.id] = std::move(r); }); };
    h.notify = [this](std::uint32_t doc, LogRecord r) { add([&] { heard[doc].push_back(std::move(r)); }); };
    h.revoked = [this](std::string jti, std::uint32_t user) { add([&] { revoked.emplace_back(std::move(jti), user); }); };
    h.committed = [this](std::size_t n, double) { add([&] { commits.push_back(n); }); };
    h.notify_lag = [this](double) { add([&] { ++lags; }); };
    h.health = [this](bool up, std::string why) { add([&] { health.emplace_back(up, std::move(why)); }); };
    return h;
  }

  template <class F>
  void add(F&& f) {
    {
      std::lock_guard lock(mu);
      f();
    }
    cv.notify_all();
  }

  // A bound on waiting, not a speed assertion: generous, so a loaded machine does not fail.
  template <class Pred>
  bool wait_until(Pred pred, std::chrono::seconds limit = std::chrono::seconds(60)) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return pred(); });
  }
};

inline LogRecord record(AgentId author, std::string_view text, std::int64_t client_ms = 0, std::int64_t server_ms = 0) {
  LogRecord r;
  r.author = author;
  r.record.assign(text.begin(), text.end());
  r.client_ms = client_ms;
  r.server_ms = server_ms;
  return r;
}

inline StoreRequest append(std::uint64_t id, std::uint32_t doc, std::vector<LogRecord> records, bool notify = false,
                           std::uint64_t expect_first_index = 0) {
  StoreRequest r;
  r.kind = StoreRequest::Kind::kAppend;
  r.id = id;
  r.doc = doc;
  r.records = std::move(records);
  r.notify = notify;
  r.expect_first_index = expect_first_index;
  r.purpose = "test";
  return r;
}

// The documents `column` of `table` names in the database at `url` (which database holds a
// partitioned deployment's documents).
inline std::set<std::uint32_t> docs_in(const std::string& url, const std::string& table, const std::string& column) {
  pqxx::connection c(url);
  pqxx::nontransaction n(c);
  std::set<std::uint32_t> out;
  for (const auto& row : n.exec("SELECT DISTINCT " + column + " FROM " + table)) out.insert(row[0].as<std::uint32_t>());
  return out;
}

inline std::unique_ptr<Store> open_store(const std::string& url, Collector& col, std::uint32_t node = 1,
                                         std::size_t batch_max = 4096, std::int64_t batch_interval_us = 0) {
  StoreConfig cfg;
  cfg.url = url;
  cfg.node = node;
  cfg.batch_max = batch_max;
  cfg.batch_interval_us = batch_interval_us;
  auto s = Store::open(cfg, col.hooks());
  if (!s) ADD_FAILURE() << s.error().message;
  return s ? std::move(*s) : nullptr;
}

}  // namespace convlab::pg::test
