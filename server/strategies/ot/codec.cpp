#include "server/strategies/ot/codec.hpp"

#include "server/core/assert.hpp"
#include "server/core/utf8.hpp"
#include "server/core/wire.hpp"

#include <boost/json.hpp>

#include <limits>
#include <optional>
#include <type_traits>

namespace convlab::ot {

namespace {

// First byte of every message: what follows.
enum class Tag : std::uint8_t { op = 1, ack = 2, remote = 3, welcome = 4, record = 5, snapshot = 6 };

constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();

// ---- ids as runs: (agent, first seq, count) for each stretch of consecutive seqs ----

struct Run {
  CharId first;
  std::uint64_t count = 0;
};

std::vector<Run> runs_of(const std::vector<CharId>& ids) {
  std::vector<Run> runs;
  for (const CharId& id : ids) {
    if (!runs.empty()) {
      Run& last = runs.back();
      if (last.first.agent == id.agent && last.first.seq + last.count == std::uint64_t{id.seq}) {
        ++last.count;
        continue;
      }
    }
    runs.push_back(Run{id, 1});
  }
  return runs;
}

// Expands runs, refusing any that do not add up to exactly `expected` ids.
Result<std::vector<CharId>> expand(const std::vector<Run>& runs, std::uint64_t expected) {
  std::uint64_t total = 0;
  for (const Run& r : runs) {
    if (r.count == 0) return make_error("id run of length 0");
    if (r.count > expected - total) return make_error("id runs hold more ids than inserted characters");
    if (std::uint64_t{r.first.seq} + r.count - 1 > kU32Max) return make_error("id run overflows its seq");
    total += r.count;
  }
  if (total != expected)
    return make_error("id runs hold " + std::to_string(total) + " ids for " + std::to_string(expected) +
                      " characters");
  std::vector<CharId> ids;
  ids.reserve(expected);
  for (const Run& r : runs) {
    for (std::uint64_t i = 0; i < r.count; ++i) ids.push_back(CharId{r.first.agent, static_cast<std::uint32_t>(r.first.seq + i)});
  }
  return ids;
}

// ---- binary ----

void write_ids(Writer& w, const std::vector<CharId>& ids) {
  const std::vector<Run> runs = runs_of(ids);
  w.varint(runs.size());
  for (const Run& r : runs) {
    w.varint(r.first.agent);
    w.varint(r.first.seq);
    w.varint(r.count);
  }
}

std::vector<CharId> read_ids(Reader& r, std::uint64_t expected) {
  // Every run takes at least three bytes, so the count is bounded by what is left.
  const std::uint64_t n = r.varint_max(r.remaining() / 3, "id run count");
  std::vector<Run> runs;
  runs.reserve(n);
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
    Run run;
    run.first.agent = static_cast<AgentId>(r.varint_max(kU32Max, "id agent"));
    run.first.seq = static_cast<std::uint32_t>(r.varint_max(kU32Max, "id seq"));
    run.count = r.varint_max(expected, "id run length");
    runs.push_back(run);
  }
  if (!r.ok()) return {};
  auto ids = expand(runs, expected);
  if (!ids) {
    r.fail(ids.error().message);
    return {};
  }
  return std::move(*ids);
}

void write_op(Writer& w, const Op& op) {
  w.varint(op.size());
  for (const Component& c : op) {
    w.u8(static_cast<std::uint8_t>(c.kind));
    if (c.kind == Component::Kind::insert) {
      w.text(c.text);
    } else {
      w.varint(c.n);
    }
  }
  write_ids(w, insert_ids(op));
}

Op read_op(Reader& r) {
  // Every component takes at least two bytes.
  const std::uint64_t n = r.varint_max(r.remaining() / 2, "component count");
  Op op;
  op.reserve(n);
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
    const std::uint8_t kind = r.u8();
    switch (kind) {
      case static_cast<std::uint8_t>(Component::Kind::skip):
        op.push_back(Component::skip(r.varint_max(kComponentLengthMax, "skip length")));
        break;
      case static_cast<std::uint8_t>(Component::Kind::del):
        op.push_back(Component::del(r.varint_max(kComponentLengthMax, "delete length")));
        break;
      case static_cast<std::uint8_t>(Component::Kind::insert):
        op.push_back(Component::insert(r.text()));
        break;
      default:
        r.fail("unknown component kind " + std::to_string(kind));
    }
  }
  if (!r.ok()) return {};
  std::vector<CharId> ids = read_ids(r, inserted_chars(op));
  if (!r.ok()) return {};
  set_insert_ids(op, ids);
  if (auto ok = check(op); !ok) {
    r.fail("op: " + ok.error().message);
    return {};
  }
  return op;
}

void write_record_body(Writer& w, const RecordMsg& m) {
  w.varint(m.rev);
  w.varint(m.author);
  w.svarint(m.client_clock_ms);
  w.svarint(m.server_clock_ms);
  write_op(w, m.op);
}

RecordMsg read_record_body(Reader& r) {
  RecordMsg m;
  m.rev = r.varint();
  m.author = static_cast<AgentId>(r.varint_max(kU32Max, "author"));
  m.client_clock_ms = r.svarint();
  m.server_clock_ms = r.svarint();
  m.op = read_op(r);
  return m;
}

void write_doc(Writer& w, const std::u32string& text, const std::vector<CharId>& ids) {
  CONVLAB_ASSERT(text.size() == ids.size());
  w.text(text);
  write_ids(w, ids);
}

void read_doc(Reader& r, std::u32string& text, std::vector<CharId>& ids) {
  text = r.text();
  if (!r.ok()) return;
  ids = read_ids(r, text.size());
}

// ---- JSON ----

const boost::json::value* field(const boost::json::object& o, const char* key) { return o.if_contains(key); }

Result<std::uint64_t> json_u64(const boost::json::object& o, const char* key, std::uint64_t max) {
  const boost::json::value* v = field(o, key);
  if (v == nullptr) return make_error(std::string("missing \"") + key + "\"");
  if (v->is_int64() && v->get_int64() >= 0 && static_cast<std::uint64_t>(v->get_int64()) <= max)
    return static_cast<std::uint64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= max) return v->get_uint64();
  return make_error(std::string("\"") + key + "\" must be a whole number in [0, " + std::to_string(max) + "]");
}

Result<std::int64_t> json_i64(const boost::json::object& o, const char* key) {
  const boost::json::value* v = field(o, key);
  if (v == nullptr) return make_error(std::string("missing \"") + key + "\"");
  if (v->is_int64()) return v->get_int64();
  return make_error(std::string("\"") + key + "\" must be a signed 64-bit whole number");
}

boost::json::array ids_to_json(const std::vector<CharId>& ids) {
  boost::json::array out;
  for (const Run& r : runs_of(ids)) out.push_back(boost::json::array{r.first.agent, r.first.seq, r.count});
  return out;
}

Result<std::vector<CharId>> ids_from_json(const boost::json::object& o, std::uint64_t expected) {
  const boost::json::value* v = field(o, "ids");
  if (v == nullptr) return make_error("missing \"ids\"");
  if (!v->is_array()) return make_error("\"ids\" must be an array of [agent, seq, count]");
  std::vector<Run> runs;
  for (const boost::json::value& e : v->get_array()) {
    if (!e.is_array() || e.get_array().size() != 3) return make_error("an id run must be [agent, seq, count]");
    const boost::json::array& a = e.get_array();
    std::uint64_t parts[3] = {0, 0, 0};
    for (std::size_t i = 0; i < 3; ++i) {
      if (a[i].is_int64() && a[i].get_int64() >= 0) {
        parts[i] = static_cast<std::uint64_t>(a[i].get_int64());
      } else if (a[i].is_uint64()) {
        parts[i] = a[i].get_uint64();
      } else {
        return make_error("an id run must hold whole numbers");
      }
    }
    if (parts[0] > kU32Max || parts[1] > kU32Max) return make_error("id agent or seq above 2^32 - 1");
    if (parts[2] > expected) return make_error("id runs hold more ids than inserted characters");
    runs.push_back(Run{CharId{static_cast<AgentId>(parts[0]), static_cast<std::uint32_t>(parts[1])}, parts[2]});
  }
  return expand(runs, expected);
}

boost::json::object op_fields(const Op& op) {
  boost::json::object o;
  o["op"] = op_to_json(op);
  o["ids"] = ids_to_json(insert_ids(op));
  return o;
}

Result<Op> op_from_fields(const boost::json::object& o) {
  const boost::json::value* v = field(o, "op");
  if (v == nullptr) return make_error("missing \"op\"");
  auto op = op_from_json(*v);
  if (!op) return make_error("\"op\": " + op.error().message);
  auto ids = ids_from_json(o, inserted_chars(*op));
  if (!ids) return ids.error();
  set_insert_ids(*op, *ids);
  return op;
}

boost::json::object record_to_json(const RecordMsg& m) {
  boost::json::object o = op_fields(m.op);
  o["type"] = "record";
  o["rev"] = m.rev;
  o["author"] = m.author;
  o["client_clock_ms"] = m.client_clock_ms;
  o["server_clock_ms"] = m.server_clock_ms;
  return o;
}

Result<RecordMsg> record_from_json(const boost::json::object& o) {
  RecordMsg m;
  auto rev = json_u64(o, "rev", std::numeric_limits<std::uint64_t>::max());
  if (!rev) return rev.error();
  auto author = json_u64(o, "author", kU32Max);
  if (!author) return author.error();
  auto cc = json_i64(o, "client_clock_ms");
  if (!cc) return cc.error();
  auto sc = json_i64(o, "server_clock_ms");
  if (!sc) return sc.error();
  auto op = op_from_fields(o);
  if (!op) return op.error();
  m.rev = *rev;
  m.author = static_cast<AgentId>(*author);
  m.client_clock_ms = *cc;
  m.server_clock_ms = *sc;
  m.op = std::move(*op);
  return m;
}

Result<std::u32string> text_from_json(const boost::json::object& o) {
  const boost::json::value* v = field(o, "text");
  if (v == nullptr || !v->is_string()) return make_error("\"text\" must be a string");
  auto t = utf8_decode(std::string_view(v->get_string()));
  if (!t) return make_error("\"text\": " + t.error().message);
  return t;
}

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

}  // namespace

Bytes encode(const Message& m) {
  Writer w;
  std::visit(Overload{
                 [&](const OpMsg& x) {
                   w.u8(static_cast<std::uint8_t>(Tag::op));
                   w.varint(x.base);
                   w.svarint(x.client_clock_ms);
                   write_op(w, x.op);
                 },
                 [&](const AckMsg& x) {
                   w.u8(static_cast<std::uint8_t>(Tag::ack));
                   w.varint(x.rev);
                 },
                 [&](const RemoteMsg& x) {
                   w.u8(static_cast<std::uint8_t>(Tag::remote));
                   w.varint(x.rev);
                   w.varint(x.author);
                   write_op(w, x.op);
                 },
                 [&](const WelcomeMsg& x) {
                   w.u8(static_cast<std::uint8_t>(Tag::welcome));
                   w.varint(x.rev);
                   write_doc(w, x.text, x.ids);
                 },
                 [&](const RecordMsg& x) {
                   w.u8(static_cast<std::uint8_t>(Tag::record));
                   write_record_body(w, x);
                 },
                 [&](const SnapshotMsg& x) {
                   CONVLAB_ASSERT(x.history.size() <= kHistoryMax);
                   w.u8(static_cast<std::uint8_t>(Tag::snapshot));
                   w.varint(x.rev);
                   write_doc(w, x.text, x.ids);
                   w.varint(x.history.size());
                   for (const RecordMsg& h : x.history) write_record_body(w, h);
                 },
             },
             m);
  return w.take();
}

void append_record_body(Bytes& out, const RecordMsg& m) {
  Writer w;
  write_record_body(w, m);
  const Bytes body = w.take();
  out.insert(out.end(), body.begin(), body.end());
}

Bytes encode_snapshot(std::uint64_t rev, const std::u32string& text, const std::vector<CharId>& ids,
                      std::size_t records, std::span<const std::uint8_t> bodies) {
  // What encode(SnapshotMsg) writes, with the records' bodies already written.
  CONVLAB_ASSERT(records <= kHistoryMax);
  Writer w;
  w.reserve(16 + text.size() + bodies.size());
  w.u8(static_cast<std::uint8_t>(Tag::snapshot));
  w.varint(rev);
  write_doc(w, text, ids);
  w.varint(records);
  Bytes out = w.take();
  out.insert(out.end(), bodies.begin(), bodies.end());
  return out;
}

Result<Message> decode(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  const std::uint8_t tag = r.u8();
  Message out;
  switch (tag) {
    case static_cast<std::uint8_t>(Tag::op): {
      OpMsg m;
      m.base = r.varint();
      m.client_clock_ms = r.svarint();
      m.op = read_op(r);
      out = std::move(m);
      break;
    }
    case static_cast<std::uint8_t>(Tag::ack):
      out = AckMsg{r.varint()};
      break;
    case static_cast<std::uint8_t>(Tag::remote): {
      RemoteMsg m;
      m.rev = r.varint();
      m.author = static_cast<AgentId>(r.varint_max(kU32Max, "author"));
      m.op = read_op(r);
      out = std::move(m);
      break;
    }
    case static_cast<std::uint8_t>(Tag::welcome): {
      WelcomeMsg m;
      m.rev = r.varint();
      read_doc(r, m.text, m.ids);
      out = std::move(m);
      break;
    }
    case static_cast<std::uint8_t>(Tag::record):
      out = read_record_body(r);
      break;
    case static_cast<std::uint8_t>(Tag::snapshot): {
      SnapshotMsg m;
      m.rev = r.varint();
      read_doc(r, m.text, m.ids);
      const std::uint64_t n = r.varint_max(std::min<std::uint64_t>(kHistoryMax, r.remaining()), "history length");
      m.history.reserve(n);
      for (std::uint64_t i = 0; i < n && r.ok(); ++i) m.history.push_back(read_record_body(r));
      out = std::move(m);
      break;
    }
    default:
      if (r.ok()) r.fail("unknown ot message tag " + std::to_string(tag));
  }
  if (auto done = r.finish(); !done) return done.error();
  return out;
}

boost::json::value to_json(const Message& m) {
  return std::visit(Overload{
                        [](const OpMsg& x) -> boost::json::value {
                          boost::json::object o = op_fields(x.op);
                          o["type"] = "op";
                          o["base"] = x.base;
                          o["client_clock_ms"] = x.client_clock_ms;
                          return o;
                        },
                        [](const AckMsg& x) -> boost::json::value {
                          return boost::json::object{{"type", "ack"}, {"rev", x.rev}};
                        },
                        [](const RemoteMsg& x) -> boost::json::value {
                          boost::json::object o = op_fields(x.op);
                          o["type"] = "remote";
                          o["rev"] = x.rev;
                          o["author"] = x.author;
                          return o;
                        },
                        [](const WelcomeMsg& x) -> boost::json::value {
                          return boost::json::object{{"type", "welcome"},
                                                     {"rev", x.rev},
                                                     {"text", utf8_encode(x.text)},
                                                     {"ids", ids_to_json(x.ids)}};
                        },
                        [](const RecordMsg& x) -> boost::json::value { return record_to_json(x); },
                        [](const SnapshotMsg& x) -> boost::json::value {
                          boost::json::array h;
                          for (const RecordMsg& r : x.history) h.push_back(record_to_json(r));
                          return boost::json::object{{"type", "snapshot"},
                                                     {"rev", x.rev},
                                                     {"text", utf8_encode(x.text)},
                                                     {"ids", ids_to_json(x.ids)},
                                                     {"history", std::move(h)}};
                        },
                    },
                    m);
}

Result<Message> from_json(const boost::json::value& v) {
  if (!v.is_object()) return make_error("an ot message must be a JSON object");
  const boost::json::object& o = v.get_object();
  const boost::json::value* type = field(o, "type");
  if (type == nullptr || !type->is_string()) return make_error("missing \"type\"");
  const std::string_view t = type->get_string();
  constexpr std::uint64_t kAny = std::numeric_limits<std::uint64_t>::max();
  if (t == "op") {
    auto base = json_u64(o, "base", kAny);
    if (!base) return base.error();
    auto clock = json_i64(o, "client_clock_ms");
    if (!clock) return clock.error();
    auto op = op_from_fields(o);
    if (!op) return op.error();
    return Message{OpMsg{*base, *clock, std::move(*op)}};
  }
  if (t == "ack") {
    auto rev = json_u64(o, "rev", kAny);
    if (!rev) return rev.error();
    return Message{AckMsg{*rev}};
  }
  if (t == "remote") {
    auto rev = json_u64(o, "rev", kAny);
    if (!rev) return rev.error();
    auto author = json_u64(o, "author", kU32Max);
    if (!author) return author.error();
    auto op = op_from_fields(o);
    if (!op) return op.error();
    return Message{RemoteMsg{*rev, static_cast<AgentId>(*author), std::move(*op)}};
  }
  if (t == "welcome") {
    auto rev = json_u64(o, "rev", kAny);
    if (!rev) return rev.error();
    auto text = text_from_json(o);
    if (!text) return text.error();
    auto ids = ids_from_json(o, text->size());
    if (!ids) return ids.error();
    return Message{WelcomeMsg{*rev, std::move(*text), std::move(*ids)}};
  }
  if (t == "record") {
    auto rec = record_from_json(o);
    if (!rec) return rec.error();
    return Message{std::move(*rec)};
  }
  if (t == "snapshot") {
    SnapshotMsg m;
    auto rev = json_u64(o, "rev", kAny);
    if (!rev) return rev.error();
    auto text = text_from_json(o);
    if (!text) return text.error();
    auto ids = ids_from_json(o, text->size());
    if (!ids) return ids.error();
    const boost::json::value* h = field(o, "history");
    if (h == nullptr || !h->is_array()) return make_error("\"history\" must be an array of records");
    if (h->get_array().size() > kHistoryMax) return make_error("\"history\" holds more than the limit of records");
    for (const boost::json::value& e : h->get_array()) {
      if (!e.is_object()) return make_error("\"history\" must be an array of records");
      auto rec = record_from_json(e.get_object());
      if (!rec) return make_error("history: " + rec.error().message);
      m.history.push_back(std::move(*rec));
    }
    m.rev = *rev;
    m.text = std::move(*text);
    m.ids = std::move(*ids);
    return Message{std::move(m)};
  }
  return make_error("unknown ot message type \"" + std::string(t) + "\"");
}

}  // namespace convlab::ot
