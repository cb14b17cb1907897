#include "history/history.hpp"

#include "server/core/utf8.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace convlab::history {
namespace {

// Every field, so a round trip that drops or garbles any of them fails.
void expect_same(const Event& a, const Event& b) {
  RC_ASSERT(a.type == b.type);
  RC_ASSERT(a.t_us == b.t_us);
  RC_ASSERT(a.meta == b.meta);
  RC_ASSERT(a.client == b.client);
  RC_ASSERT(a.doc == b.doc);
  RC_ASSERT(a.op == b.op);
  RC_ASSERT(a.author == b.author);
  RC_ASSERT(a.server == b.server);
  RC_ASSERT(a.clock_ms == b.clock_ms);
  RC_ASSERT(a.pos == b.pos);
  RC_ASSERT(a.del == b.del);
  RC_ASSERT(a.del_newlines == b.del_newlines);
  RC_ASSERT(a.ins == b.ins);
  RC_ASSERT(a.para == b.para);
  RC_ASSERT(a.inserted == b.inserted);
  RC_ASSERT(a.deleted == b.deleted);
  RC_ASSERT(a.seen_ops == b.seen_ops);
  RC_ASSERT(a.offline == b.offline);
  RC_ASSERT(a.stale_base == b.stale_base);
  RC_ASSERT(a.version == b.version);
  RC_ASSERT(a.latest == b.latest);
  RC_ASSERT(a.source == b.source);
  RC_ASSERT(a.kind == b.kind);
  RC_ASSERT(a.detail == b.detail);
  RC_ASSERT(a.counters == b.counters);
  RC_ASSERT(a.replica == b.replica);
  RC_ASSERT(a.text == b.text);
  RC_ASSERT(a.ids == b.ids);
}

std::u32string gen_text() {
  return *rc::gen::container<std::u32string>(rc::gen::oneOf(
      rc::gen::inRange<char32_t>(0, 0x80), rc::gen::inRange<char32_t>(0, 0xd800),
      rc::gen::inRange<char32_t>(0xe000, 0x110000)));
}

// Strings in the format are UTF-8 (JSON text), including non-ASCII.
std::string gen_str() { return utf8_encode(gen_text()); }

std::vector<IdRun> gen_runs() {
  const auto n = *rc::gen::inRange<std::size_t>(0, 5);
  std::vector<IdRun> runs;
  for (std::size_t i = 0; i < n; ++i) {
    IdRun r;
    r.agent = *rc::gen::element<std::uint32_t>(0, 1, 7, kServerAgent);
    r.count = *rc::gen::inRange<std::uint32_t>(1, 1000);
    r.seq = *rc::gen::inRange<std::uint32_t>(0, 0xffffffffu - r.count + 1);
    runs.push_back(r);
  }
  return runs;
}

// A random event with every field meaningful for its type set, the others left at default.
Event gen_event() {
  Event e;
  e.type = static_cast<EventType>(*rc::gen::inRange(0, 13));
  e.t_us = *rc::gen::arbitrary<std::int64_t>();
  switch (e.type) {
    case EventType::kMeta:
      for (int i = *rc::gen::inRange(0, 4); i > 0; --i) e.meta[gen_str()] = gen_str();
      break;
    case EventType::kEdit:
      e.client = *rc::gen::arbitrary<std::uint32_t>();
      e.doc = *rc::gen::arbitrary<std::uint32_t>();
      e.op = *rc::gen::arbitrary<std::uint32_t>();
      e.server = *rc::gen::arbitrary<std::int32_t>();
      e.clock_ms = *rc::gen::arbitrary<std::int64_t>();
      e.pos = *rc::gen::arbitrary<std::uint64_t>();
      e.del = *rc::gen::arbitrary<std::uint64_t>();
      // Said only where it deleted, and never more than it deleted.
      if (e.del > 0 && *rc::gen::arbitrary<bool>()) e.del_newlines = *rc::gen::inRange<std::int64_t>(0, static_cast<std::int64_t>(std::min<std::uint64_t>(e.del, 1000)) + 1);
      e.ins = gen_text();
      e.para = *rc::gen::arbitrary<std::uint32_t>();
      e.inserted = gen_runs();
      e.deleted = gen_runs();
      e.seen_ops = *rc::gen::arbitrary<std::map<std::uint32_t, std::uint32_t>>();
      e.offline = *rc::gen::arbitrary<bool>();
      e.stale_base = *rc::gen::arbitrary<bool>();
      break;
    case EventType::kAck:
      e.client = *rc::gen::arbitrary<std::uint32_t>();
      e.doc = *rc::gen::arbitrary<std::uint32_t>();
      e.op = *rc::gen::arbitrary<std::uint32_t>();
      e.server = *rc::gen::arbitrary<std::int32_t>();
      break;
    case EventType::kSeen:
      e.client = *rc::gen::arbitrary<std::uint32_t>();
      e.doc = *rc::gen::arbitrary<std::uint32_t>();
      e.author = *rc::gen::arbitrary<std::uint32_t>();
      e.op = *rc::gen::arbitrary<std::uint32_t>();
      e.server = *rc::gen::arbitrary<std::int32_t>();
      break;
    case EventType::kLoad:
      e.client = *rc::gen::arbitrary<std::uint32_t>();
      e.doc = *rc::gen::arbitrary<std::uint32_t>();
      e.server = *rc::gen::arbitrary<std::int32_t>();
      e.version = *rc::gen::arbitrary<std::uint64_t>();
      e.latest = *rc::gen::arbitrary<std::uint64_t>();
      e.source = gen_str();
      break;
    case EventType::kFault:
    case EventType::kRecover:
      e.kind = gen_str();
      e.detail = gen_str();
      break;
    case EventType::kHeal:
      break;
    case EventType::kCounters:
      for (int i = *rc::gen::inRange(0, 4); i > 0; --i) e.counters[gen_str()] = *rc::gen::arbitrary<std::uint64_t>();
      break;
    case EventType::kFinal:
      e.doc = *rc::gen::arbitrary<std::uint32_t>();
      e.replica = gen_str();
      e.text = gen_text();
      e.ids = gen_runs();
      break;
    case EventType::kRename:
      e.client = *rc::gen::arbitrary<std::uint32_t>();
      e.doc = *rc::gen::arbitrary<std::uint32_t>();
      e.op = *rc::gen::arbitrary<std::uint32_t>();
      e.server = *rc::gen::arbitrary<std::int32_t>();
      e.kind = gen_str();
      e.version = *rc::gen::arbitrary<std::uint64_t>();
      e.detail = gen_str();
      break;
    case EventType::kCommit:
      e.doc = *rc::gen::arbitrary<std::uint32_t>();
      e.version = *rc::gen::arbitrary<std::uint64_t>();
      e.server = *rc::gen::arbitrary<std::int32_t>();
      e.writer = *rc::gen::arbitrary<std::int32_t>();
      e.op = *rc::gen::arbitrary<std::uint32_t>();
      // A snapshot's `taken`, or none (-1).
      e.taken_us = *rc::gen::oneOf(rc::gen::just<std::int64_t>(-1),
                                   rc::gen::inRange<std::int64_t>(0, std::numeric_limits<std::int64_t>::max()));
      e.inserted = gen_runs();
      e.deleted = gen_runs();
      break;
    case EventType::kOverruled:
      e.client = *rc::gen::arbitrary<std::uint32_t>();
      e.doc = *rc::gen::arbitrary<std::uint32_t>();
      e.op = *rc::gen::arbitrary<std::uint32_t>();
      e.writer = *rc::gen::arbitrary<std::int32_t>();
      e.by_op = *rc::gen::arbitrary<std::uint32_t>();
      e.ids = gen_runs();
      break;
  }
  return e;
}

// ---- The reference serialisation: what history.cpp wrote through Boost.JSON before its
// hand-written writer. The writer must give exactly these bytes (digests depend on them).
namespace ref {

namespace json = boost::json;

std::string text_utf8(std::u32string t) {
  for (char32_t& c : t) {
    if ((c >= 0xd800 && c < 0xe000) || c > 0x10ffff) c = 0xfffd;
  }
  return utf8_encode(t);
}

json::array runs(const std::vector<IdRun>& rs) {
  json::array a;
  for (const IdRun& r : rs) a.emplace_back(json::array{std::uint64_t{r.agent}, std::uint64_t{r.seq}, std::uint64_t{r.count}});
  return a;
}

std::string line(const Event& e) {
  static const char* const kNames[] = {"meta", "edit", "ack", "seen", "load", "fault",
                                       "recover", "heal", "counters", "final", "rename", "commit", "overruled"};
  json::object o;
  o.emplace("t", e.t_us);
  o.emplace("type", kNames[static_cast<int>(e.type)]);
  const auto who = [&](bool author) {
    o.emplace("client", std::uint64_t{e.client});
    o.emplace("doc", std::uint64_t{e.doc});
    if (author) o.emplace("author", std::uint64_t{e.author});
  };
  switch (e.type) {
    case EventType::kMeta: {
      json::object m;
      for (const auto& [k, v] : e.meta) m.emplace(k, v);
      o.emplace("meta", std::move(m));
      break;
    }
    case EventType::kEdit: {
      who(false);
      o.emplace("op", std::uint64_t{e.op});
      o.emplace("server", std::int64_t{e.server});
      o.emplace("clock_ms", e.clock_ms);
      o.emplace("pos", e.pos);
      o.emplace("del", e.del);
      if (e.del > 0 && e.del_newlines >= 0) o.emplace("del_newlines", static_cast<std::uint64_t>(e.del_newlines));
      o.emplace("ins", text_utf8(e.ins));
      o.emplace("para", std::uint64_t{e.para});
      o.emplace("inserted", runs(e.inserted));
      o.emplace("deleted", runs(e.deleted));
      json::object seen;
      for (const auto& [a, op] : e.seen_ops) seen.emplace(std::to_string(a), std::uint64_t{op});
      o.emplace("seen_ops", std::move(seen));
      o.emplace("offline", e.offline);
      o.emplace("stale_base", e.stale_base);
      break;
    }
    case EventType::kAck:
      who(false);
      o.emplace("op", std::uint64_t{e.op});
      o.emplace("server", std::int64_t{e.server});
      break;
    case EventType::kSeen:
      who(true);
      o.emplace("op", std::uint64_t{e.op});
      o.emplace("server", std::int64_t{e.server});
      break;
    case EventType::kLoad:
      who(false);
      o.emplace("server", std::int64_t{e.server});
      o.emplace("version", e.version);
      o.emplace("latest", e.latest);
      o.emplace("source", e.source);
      break;
    case EventType::kFault:
    case EventType::kRecover:
      o.emplace("kind", e.kind);
      o.emplace("detail", e.detail);
      break;
    case EventType::kHeal:
      break;
    case EventType::kCounters: {
      json::object c;
      for (const auto& [k, v] : e.counters) c.emplace(k, v);
      o.emplace("counters", std::move(c));
      break;
    }
    case EventType::kFinal:
      o.emplace("doc", std::uint64_t{e.doc});
      o.emplace("replica", e.replica);
      o.emplace("text", text_utf8(e.text));
      o.emplace("ids", runs(e.ids));
      break;
    case EventType::kRename:
      who(false);
      o.emplace("op", std::uint64_t{e.op});
      o.emplace("server", std::int64_t{e.server});
      o.emplace("kind", e.kind);
      o.emplace("version", e.version);
      o.emplace("detail", e.detail);
      break;
    case EventType::kCommit:
      o.emplace("doc", std::uint64_t{e.doc});
      o.emplace("index", e.version);
      o.emplace("server", std::int64_t{e.server});
      o.emplace("client", std::int64_t{e.writer});
      o.emplace("op", std::uint64_t{e.op});
      if (e.taken_us >= 0) o.emplace("taken", e.taken_us);
      o.emplace("added", runs(e.inserted));
      o.emplace("removed", runs(e.deleted));
      break;
    case EventType::kOverruled:
      who(false);
      o.emplace("op", std::uint64_t{e.op});
      o.emplace("by_client", std::int64_t{e.writer});
      o.emplace("by_op", std::uint64_t{e.by_op});
      o.emplace("ids", runs(e.ids));
      break;
  }
  return json::serialize(o);
}

}  // namespace ref

// Bytes and code points a writer must escape or replace: every control character, quote,
// backslash, DEL, surrogates, beyond U+10FFFF, and bytes that are not UTF-8 at all.
std::u32string gen_awkward_text() {
  return *rc::gen::container<std::u32string>(rc::gen::oneOf(
      rc::gen::inRange<char32_t>(0, 0x21), rc::gen::element<char32_t>(U'"', U'\\', U'/', 0x7f),
      rc::gen::inRange<char32_t>(0x80, 0x800), rc::gen::inRange<char32_t>(0xd7f0, 0xe010),
      rc::gen::inRange<char32_t>(0x10fff0, 0x110010), rc::gen::inRange<char32_t>(0x20, 0x7f)));
}
std::string gen_awkward_str() {
  return *rc::gen::container<std::string>(
      rc::gen::oneOf(rc::gen::inRange<char>(0, 0x21), rc::gen::element<char>('"', '\\', '/', '\x7f'),
                     rc::gen::arbitrary<char>(), rc::gen::inRange<char>(0x20, 0x7f)));
}

RC_GTEST_PROP(HistoryJson, WriterGivesTheBytesBoostJsonGives, ()) {
  Event e = gen_event();
  if (*rc::gen::arbitrary<bool>()) {  // the same event with awkward strings and text
    e.ins = gen_awkward_text();
    e.text = gen_awkward_text();
    e.source = gen_awkward_str();
    e.kind = gen_awkward_str();
    e.detail = gen_awkward_str();
    e.replica = gen_awkward_str();
    if (!e.meta.empty()) e.meta[gen_awkward_str()] = gen_awkward_str();
    if (!e.counters.empty()) e.counters[gen_awkward_str()] = *rc::gen::arbitrary<std::uint64_t>();
  }
  RC_ASSERT(to_json_line(e) == ref::line(e));
  std::ostringstream out;
  Writer w(&out);
  w.write(e);
  w.write(e);
  RC_ASSERT(out.str() == ref::line(e) + "\n" + ref::line(e) + "\n");
}

RC_GTEST_PROP(HistoryJson, EveryEventTypeRoundTripsFieldByFieldAndByteStable, ()) {
  const Event e = gen_event();
  const std::string line = to_json_line(e);
  RC_ASSERT(line.find('\n') == std::string::npos);
  auto back = from_json_line(line);
  RC_ASSERT(back.has_value());
  expect_same(e, *back);
  RC_ASSERT(to_json_line(*back) == line);
  RC_ASSERT(to_json_line(e) == line);
}

TEST(HistoryJson, NonAsciiTextAndStringsRoundTrip) {
  Event e;
  e.type = EventType::kFinal;
  e.replica = "client:\xc3\xa9";
  e.text = U"a\u00e9\n\"\\\U0001F600\t";
  e.ids = {{3, 0, 7}};
  auto back = from_json_line(to_json_line(e));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->text, e.text);
  EXPECT_EQ(back->replica, e.replica);
}

TEST(HistoryJson, EditLineHasTheDocumentedKeysInOrder) {
  Event e;
  e.type = EventType::kEdit;
  e.t_us = 1234;
  e.client = 1;
  e.op = 3;
  e.server = 0;
  e.clock_ms = -5;
  e.pos = 4;
  e.del = 1;
  e.del_newlines = 1;
  e.ins = U"h\u00e9";
  e.para = 2;
  e.inserted = {{1, 10, 2}};
  e.deleted = {{0, 5, 1}};
  e.seen_ops = {{2, 5}, {0, 1}};
  e.stale_base = true;
  EXPECT_EQ(to_json_line(e),
            "{\"t\":1234,\"type\":\"edit\",\"client\":1,\"doc\":0,\"op\":3,\"server\":0,\"clock_ms\":-5,"
            "\"pos\":4,\"del\":1,\"del_newlines\":1,\"ins\":\"h\xc3\xa9\",\"para\":2,\"inserted\":[[1,10,2]],\"deleted\":[[0,5,1]],"
            "\"seen_ops\":{\"0\":1,\"2\":5},\"offline\":false,\"stale_base\":true}");
}

TEST(HistoryJson, OtherTypesCarryOnlyTheirOwnKeys) {
  Event ack;
  ack.type = EventType::kAck;
  ack.t_us = 7;
  ack.client = 2;
  ack.op = 9;
  ack.server = -1;
  ack.pos = 99;  // not meaningful for an ack: not written
  EXPECT_EQ(to_json_line(ack), "{\"t\":7,\"type\":\"ack\",\"client\":2,\"doc\":0,\"op\":9,\"server\":-1}");
  // A paragraph strategy's ack carries the write's sequence number; read back, or absent (0).
  ack.seq = 41;
  const std::string numbered = "{\"t\":7,\"type\":\"ack\",\"client\":2,\"doc\":0,\"op\":9,\"server\":-1,\"seq\":41}";
  EXPECT_EQ(to_json_line(ack), numbered);
  auto back = from_json_line(numbered);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->seq, 41u);
  back = from_json_line("{\"t\":7,\"type\":\"ack\",\"client\":2,\"doc\":0,\"op\":9,\"server\":-1}");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->seq, 0u);
  EXPECT_FALSE(from_json_line("{\"t\":7,\"type\":\"ack\",\"client\":2,\"doc\":0,\"op\":9,\"server\":-1,\"seq\":-1}").has_value());
  // A snapshot's commit says when its server took it; read back, or absent (-1); never negative.
  Event snap;
  snap.type = EventType::kCommit;
  snap.t_us = 900;
  snap.taken_us = 250;
  const std::string taken = "{\"t\":900,\"type\":\"commit\",\"doc\":0,\"index\":0,\"server\":-1,\"client\":-1,\"op\":0,"
                            "\"taken\":250,\"added\":[],\"removed\":[]}";
  EXPECT_EQ(to_json_line(snap), taken);
  back = from_json_line(taken);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->taken_us, 250);
  snap.taken_us = -1;
  back = from_json_line(to_json_line(snap));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->taken_us, -1);
  EXPECT_FALSE(from_json_line("{\"t\":900,\"type\":\"commit\",\"doc\":0,\"index\":0,\"server\":-1,\"client\":-1,"
                              "\"op\":0,\"taken\":-5,\"added\":[],\"removed\":[]}").has_value());
  Event heal;
  heal.type = EventType::kHeal;
  heal.t_us = 60000000;
  EXPECT_EQ(to_json_line(heal), "{\"t\":60000000,\"type\":\"heal\"}");
  Event meta;
  meta.type = EventType::kMeta;
  meta.meta = {{"seed", "3"}, {"heal_us", "60000000"}};
  EXPECT_EQ(to_json_line(meta), "{\"t\":0,\"type\":\"meta\",\"meta\":{\"heal_us\":\"60000000\",\"seed\":\"3\"}}");
}

TEST(HistoryJson, MalformedLinesNameTheKey) {
  struct Case {
    std::string line;
    std::string says;
  };
  const Case cases[] = {
      {"not json", "invalid JSON"},
      {"[1,2]", "expected a JSON object"},
      {R"({"t":1})", "key \"type\": missing"},
      {R"({"t":1,"type":"nope"})", "key \"type\": unknown event type \"nope\""},
      {R"({"t":1,"type":7})", "key \"type\": expected a string"},
      {R"({"type":"heal"})", "key \"t\": missing"},
      {R"({"t":1.5,"type":"heal"})", "key \"t\": expected a signed 64-bit integer"},
      {R"({"t":1,"type":"heal","client":3})", "key \"client\": not a key of a heal event"},
      {R"({"t":1,"type":"ack","client":-1,"doc":0,"op":0,"server":0})", "key \"client\": expected an unsigned 32-bit"},
      {R"({"t":1,"type":"ack","client":4294967296,"doc":0,"op":0,"server":0})", "key \"client\""},
      {R"({"t":1,"type":"ack","client":1,"doc":0,"op":0})", "key \"server\": missing"},
      {R"({"t":1,"type":"ack","client":1,"doc":0,"op":"3","server":0})", "key \"op\""},
      {R"({"t":1,"type":"load","client":1,"doc":0,"server":0,"version":1,"latest":2,"source":5})",
       "key \"source\": expected a string"},
      {R"({"t":1,"type":"final","doc":0,"replica":"durable","text":"ab","ids":[[1,2]]})",
       "key \"ids\": element 0: expected [agent, seq, count]"},
      {R"({"t":1,"type":"final","doc":0,"replica":"durable","text":"ab","ids":[[1,2,0]]})",
       "key \"ids\": element 0: count must be at least 1"},
      {R"({"t":1,"type":"final","doc":0,"replica":"durable","text":"ab","ids":[[1,4294967295,2]]})",
       "key \"ids\": element 0: run passes the largest seq"},
      {R"({"t":1,"type":"final","doc":0,"replica":"durable","text":1,"ids":[]})", "key \"text\": expected a string"},
      {R"({"t":1,"type":"counters","counters":{"db.poll":-3}})", "key \"counters\": counter \"db.poll\""},
      {R"({"t":1,"type":"meta","meta":{"seed":3}})", "key \"meta\": entry \"seed\": expected a string"},
      {R"({"t":1,"type":"fault","kind":"crash","detail":null})", "key \"detail\": expected a string"},
      {R"({"t":1,"type":"edit","client":1,"doc":0,"op":3,"server":0,"clock_ms":5,"pos":0,"del":0,"ins":"a",)"
       R"("para":0,"inserted":[[1,0,1]],"deleted":[],"seen_ops":{"x":1},"offline":false,"stale_base":false})",
       "key \"seen_ops\": author \"x\" is not a decimal client number"},
      {R"({"t":1,"type":"edit","client":1,"doc":0,"op":3,"server":0,"clock_ms":5,"pos":0,"del":0,"ins":"a",)"
       R"("para":0,"inserted":[[1,0,1]],"deleted":[],"seen_ops":{},"offline":0,"stale_base":false})",
       "key \"offline\": expected true or false"},
  };
  for (const auto& c : cases) {
    auto r = from_json_line(c.line);
    ASSERT_FALSE(r.has_value()) << c.line;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << c.line << " -> " << r.error().message;
  }
}

TEST(HistoryIds, CompressMergesConsecutiveSeqsOfOneAgent) {
  const std::vector<CharId> ids = {{1, 5}, {1, 6}, {1, 7}, {2, 8}, {1, 8}, {1, 3}, {kServerAgent, 0xffffffffu}, {kServerAgent, 0}};
  const std::vector<IdRun> want = {{1, 5, 3}, {2, 8, 1}, {1, 8, 1}, {1, 3, 1}, {kServerAgent, 0xffffffffu, 1}, {kServerAgent, 0, 1}};
  EXPECT_EQ(compress_ids(ids), want);
  EXPECT_EQ(expand_ids(want), ids);
}

RC_GTEST_PROP(HistoryIds, ExpandOfCompressIsIdentity, ()) {
  const auto ids = *rc::gen::container<std::vector<CharId>>(rc::gen::build<CharId>(
      rc::gen::set(&CharId::agent, rc::gen::inRange<AgentId>(0, 3)),
      rc::gen::set(&CharId::seq, rc::gen::inRange<std::uint32_t>(0, 6))));
  const auto runs = compress_ids(ids);
  RC_ASSERT(expand_ids(runs) == ids);
  for (std::size_t i = 1; i < runs.size(); ++i) {
    // Maximal: a run never continues straight into the next one.
    RC_ASSERT(!(runs[i].agent == runs[i - 1].agent && runs[i].seq == runs[i - 1].seq + runs[i - 1].count));
  }
}

std::vector<Event> sample_events() {
  std::vector<Event> v(3);
  v[0].type = EventType::kMeta;
  v[0].meta = {{"heal_us", "1000"}};
  v[1].type = EventType::kEdit;
  v[1].t_us = 10;
  v[1].ins = U"x";
  v[1].inserted = {{0, 0, 1}};
  v[2].type = EventType::kHeal;
  v[2].t_us = 1000;
  return v;
}

TEST(HistoryWriter, WritesLinesAndDigestsTheBytes) {
  std::ostringstream out;
  Writer w(&out);
  Writer digest_only(nullptr);
  EXPECT_EQ(w.digest(), "cbf29ce484222325");  // FNV-1a 64 offset basis: nothing written
  std::string expected;
  for (const Event& e : sample_events()) {
    w.write(e);
    digest_only.write(e);
    expected += to_json_line(e) + "\n";
  }
  EXPECT_EQ(out.str(), expected);
  EXPECT_EQ(w.events(), 3u);
  EXPECT_EQ(w.digest(), digest_only.digest());
  EXPECT_EQ(w.digest().size(), 16u);

  // Known value: FNV-1a 64 of "a" is af63dc4c8601ec8c; one event's line is hashed the same way.
  Event tiny;
  tiny.type = EventType::kHeal;
  Writer t(nullptr);
  t.write(tiny);
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : to_json_line(tiny) + "\n") {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  EXPECT_EQ(t.digest(), hex);
}

TEST(HistoryWriter, DigestChangesWhenOneByteChanges) {
  auto events = sample_events();
  Writer a(nullptr);
  for (const Event& e : events) a.write(e);
  events[1].t_us = 11;  // "10" -> "11": one byte
  Writer b(nullptr);
  for (const Event& e : events) b.write(e);
  EXPECT_NE(a.digest(), b.digest());
  Writer c(nullptr);
  events[1].t_us = 10;
  for (const Event& e : events) c.write(e);
  EXPECT_EQ(a.digest(), c.digest());
}

std::string write_temp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(HistoryReadFile, ReadsWhatTheWriterWrote) {
  std::ostringstream out;
  Writer w(&out);
  for (const Event& e : sample_events()) w.write(e);
  const std::string path = write_temp("convlab_history_ok.jsonl", out.str());
  auto r = read_file(path);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[1].ins, U"x");
  EXPECT_EQ((*r)[2].type, EventType::kHeal);
}

TEST(HistoryReadFile, ErrorsNameFileAndLine) {
  const std::string path = write_temp(
      "convlab_history_bad.jsonl",
      "{\"t\":0,\"type\":\"heal\"}\n{\"t\":1,\"type\":\"heal\"}\n{\"t\":2,\"type\":\"ack\",\"client\":1}\n");
  auto r = read_file(path);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.rfind(path + ":3: key \"doc\": missing", 0), 0u) << r.error().message;

  auto missing = read_file(::testing::TempDir() + "convlab_no_such_history.jsonl");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("convlab_no_such_history.jsonl: cannot open"), std::string::npos);

  const std::string blank = write_temp("convlab_history_blank.jsonl", "{\"t\":0,\"type\":\"heal\"}\n\n");
  auto b = read_file(blank);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().message, blank + ":2: empty line");
}


// The examples in docs/history.md are real lines: each parses and writes back byte for byte,
// and every event type has one.
TEST(HistoryDocs, ExamplesInTheFormatDocumentRoundTrip) {
  std::ifstream in(std::string(CONVLAB_SOURCE_DIR) + "/docs/history.md");
  ASSERT_TRUE(in) << "docs/history.md not found";
  std::string line;
  bool in_json = false;
  std::set<EventType> types;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      in_json = line == "```json";
      continue;
    }
    if (!in_json) continue;
    auto e = from_json_line(line);
    ASSERT_TRUE(e.has_value()) << line << ": " << e.error().message;
    EXPECT_EQ(to_json_line(*e), line);
    types.insert(e->type);
  }
  EXPECT_EQ(types.size(), 13u);
}

}  // namespace
}  // namespace convlab::history
