#include "history/history.hpp"

#include "server/core/utf8.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <ostream>
#include <string_view>
#include <utility>

namespace convlab::history {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Id runs

std::vector<IdRun> compress_ids(const std::vector<CharId>& ids) {
  std::vector<IdRun> runs;
  for (const CharId& id : ids) {
    if (!runs.empty()) {
      IdRun& last = runs.back();
      // The next id of the run is (agent, seq + count); a run never wraps past the top seq.
      const std::uint64_t next = std::uint64_t{last.seq} + last.count;
      if (last.agent == id.agent && next == id.seq && last.count < std::numeric_limits<std::uint32_t>::max()) {
        ++last.count;
        continue;
      }
    }
    runs.push_back(IdRun{id.agent, id.seq, 1});
  }
  return runs;
}

std::vector<CharId> expand_ids(const std::vector<IdRun>& runs) {
  std::vector<CharId> ids;
  std::size_t total = 0;
  for (const IdRun& r : runs) total += r.count;
  ids.reserve(total);
  for (const IdRun& r : runs) {
    for (std::uint32_t i = 0; i < r.count; ++i) ids.push_back(CharId{r.agent, r.seq + i});
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Event types and their keys

namespace {

struct TypeInfo {
  EventType type;
  std::string_view name;
  // Every key a line of this type may carry, in the order the writer emits them (an ack's `seq`
  // only where the strategy numbers its writes).
  std::vector<std::string_view> keys;
};

const std::vector<TypeInfo>& type_infos() {
  static const std::vector<TypeInfo> infos = {
      {EventType::kMeta, "meta", {"t", "type", "meta"}},
      {EventType::kEdit,
       "edit",
       {"t", "type", "client", "doc", "op", "server", "clock_ms", "pos", "del", "del_newlines", "ins", "para", "inserted",
        "deleted", "seen_ops", "offline", "stale_base"}},
      {EventType::kAck, "ack", {"t", "type", "client", "doc", "op", "server", "seq"}},
      {EventType::kSeen, "seen", {"t", "type", "client", "doc", "author", "op", "server"}},
      {EventType::kLoad, "load", {"t", "type", "client", "doc", "server", "version", "latest", "source"}},
      {EventType::kFault, "fault", {"t", "type", "kind", "detail"}},
      {EventType::kRecover, "recover", {"t", "type", "kind", "detail"}},
      {EventType::kHeal, "heal", {"t", "type"}},
      {EventType::kCounters, "counters", {"t", "type", "counters"}},
      {EventType::kFinal, "final", {"t", "type", "doc", "replica", "text", "ids"}},
      {EventType::kRename, "rename", {"t", "type", "client", "doc", "op", "server", "kind", "version", "detail"}},
      {EventType::kCommit, "commit", {"t", "type", "doc", "index", "server", "client", "op", "taken", "added", "removed"}},
      {EventType::kOverruled, "overruled", {"t", "type", "client", "doc", "op", "by_client", "by_op", "ids"}},
  };
  return infos;
}

const TypeInfo& info_of(EventType t) {
  for (const TypeInfo& i : type_infos()) {
    if (i.type == t) return i;
  }
  CONVLAB_ASSERT(false && "unknown EventType");
  return type_infos().front();
}

const TypeInfo* info_by_name(std::string_view name) {
  for (const TypeInfo& i : type_infos()) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

// Text leaves as UTF-8. A code point that is not a Unicode scalar value (a surrogate or above
// U+10FFFF) cannot be encoded; it is written as U+FFFD rather than producing invalid bytes.
std::string text_to_utf8(const std::u32string& text) {
  bool clean = true;
  for (char32_t c : text) {
    if ((c >= 0xd800 && c < 0xe000) || c > 0x10ffff) {
      clean = false;
      break;
    }
  }
  if (clean) return utf8_encode(text);
  std::u32string fixed = text;
  for (char32_t& c : fixed) {
    if ((c >= 0xd800 && c < 0xe000) || c > 0x10ffff) c = 0xfffd;
  }
  return utf8_encode(fixed);
}

// The writer appends straight into one string: keys in the fixed order of type_infos(), integers
// in plain decimal, strings escaped as Boost.JSON's serializer does (`"` and `\` backslashed;
// \b \t \n \f \r; every other byte below 0x20 as \u00xx in lowercase hex; all other bytes as
// they are). tests/history/history_test.cpp holds it to byte equality with Boost.JSON.
class LineWriter {
 public:
  explicit LineWriter(std::string& out) : out_(out) {}

  void open() { out_.push_back('{'); }
  void close() { out_.push_back('}'); }
  // `,"key":` (no comma before the first key of an object).
  void key(std::string_view k) {
    // One append: keys are the writer's own short names (nothing to escape).
    char buf[32];
    char* p = buf;
    if (!first_) *p++ = ',';
    first_ = false;
    *p++ = '"';
    if (k.size() > sizeof buf - 4) {
      out_.append(buf, static_cast<std::size_t>(p - buf));
      out_.append(k);
      out_.append("\":");
      return;
    }
    std::memcpy(p, k.data(), k.size());
    p += k.size();
    *p++ = '"';
    *p++ = ':';
    out_.append(buf, static_cast<std::size_t>(p - buf));
  }
  void u64(std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  void i64(std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  void boolean(bool v) { out_.append(v ? "true" : "false"); }
  void str(std::string_view s) {
    out_.push_back('"');
    std::size_t plain = 0;  // start of the run of bytes that need no escape
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (!needs_escape(c)) continue;
      out_.append(s.data() + plain, i - plain);
      plain = i + 1;
      escape(c);
    }
    out_.append(s.data() + plain, s.size() - plain);
    out_.push_back('"');
  }
  // `,"key":` for a key that is data (meta and counter names): escaped like a value.
  void data_key(std::string_view k) {
    if (!first_) out_.push_back(',');
    first_ = false;
    str(k);
    out_.push_back(':');
  }
  // Code points as a UTF-8 JSON string (see text_to_utf8 for those that are not scalar values).
  void text(const std::u32string& t) {
    bool ascii = true;
    for (char32_t c : t) ascii = ascii && c < 0x80;
    if (!ascii) return str(text_to_utf8(t));
    // Written in place: room for the worst case (every character a \u00xx escape), then cut.
    const std::size_t old = out_.size();
    out_.resize(old + 2 + 6 * t.size());
    char* p = out_.data() + old;
    *p++ = '"';
    for (char32_t c32 : t) {
      const auto c = static_cast<unsigned char>(c32);
      if (needs_escape(c)) {
        p = escape_to(p, c);
      } else {
        *p++ = static_cast<char>(c);
      }
    }
    *p++ = '"';
    out_.resize(static_cast<std::size_t>(p - out_.data()));
  }
  void runs(const std::vector<IdRun>& runs) {
    // Each run is at most `[4294967295,4294967295,4294967295],`: 34 bytes.
    const std::size_t old = out_.size();
    out_.resize(old + 2 + 34 * runs.size());
    char* p = out_.data() + old;
    char* const end = out_.data() + out_.size();
    *p++ = '[';
    for (std::size_t i = 0; i < runs.size(); ++i) {
      if (i > 0) *p++ = ',';
      *p++ = '[';
      p = std::to_chars(p, end, runs[i].agent).ptr;
      *p++ = ',';
      p = std::to_chars(p, end, runs[i].seq).ptr;
      *p++ = ',';
      p = std::to_chars(p, end, runs[i].count).ptr;
      *p++ = ']';
    }
    *p++ = ']';
    out_.resize(static_cast<std::size_t>(p - out_.data()));
  }
  // Starts a nested object: its first key gets no comma.
  void nested_open() {
    out_.push_back('{');
    first_ = true;
  }
  void nested_close() {
    out_.push_back('}');
    first_ = false;
  }

 private:
  static bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }
  void escape(unsigned char c) {
    char buf[6];
    out_.append(buf, static_cast<std::size_t>(escape_to(buf, c) - buf));
  }
  // Writes the escape of `c` at `p` (at most 6 bytes); returns the end.
  static char* escape_to(char* p, unsigned char c) {
    *p++ = '\\';
    switch (c) {
      case '"': *p++ = '"'; break;
      case '\\': *p++ = '\\'; break;
      case '\b': *p++ = 'b'; break;
      case '\t': *p++ = 't'; break;
      case '\n': *p++ = 'n'; break;
      case '\f': *p++ = 'f'; break;
      case '\r': *p++ = 'r'; break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 0xf];
      }
    }
    return p;
  }

  std::string& out_;
  bool first_ = true;
};

void append_line(std::string& out, const Event& e) {
  LineWriter w(out);
  w.open();
  w.key("t");
  w.i64(e.t_us);
  w.key("type");
  w.str(info_of(e.type).name);
  switch (e.type) {
    case EventType::kMeta:
      w.key("meta");
      w.nested_open();
      for (const auto& [k, v] : e.meta) {  // std::map: sorted keys
        w.data_key(k);
        w.str(v);
      }
      w.nested_close();
      break;
    case EventType::kEdit:
      w.key("client");
      w.u64(e.client);
      w.key("doc");
      w.u64(e.doc);
      w.key("op");
      w.u64(e.op);
      w.key("server");
      w.i64(e.server);
      w.key("clock_ms");
      w.i64(e.clock_ms);
      w.key("pos");
      w.u64(e.pos);
      w.key("del");
      w.u64(e.del);
      if (e.del > 0 && e.del_newlines >= 0) {  // paragraphs it joined: said where it deleted
        w.key("del_newlines");
        w.u64(static_cast<std::uint64_t>(e.del_newlines));
      }
      w.key("ins");
      w.text(e.ins);
      w.key("para");
      w.u64(e.para);
      w.key("inserted");
      w.runs(e.inserted);
      w.key("deleted");
      w.runs(e.deleted);
      w.key("seen_ops");
      w.nested_open();
      for (const auto& [author, op] : e.seen_ops) {  // std::map: ascending authors
        char name[12];
        const auto r = std::to_chars(name, name + sizeof name, author);
        w.key(std::string_view(name, static_cast<std::size_t>(r.ptr - name)));
        w.u64(op);
      }
      w.nested_close();
      w.key("offline");
      w.boolean(e.offline);
      w.key("stale_base");
      w.boolean(e.stale_base);
      break;
    case EventType::kAck:
      w.key("client");
      w.u64(e.client);
      w.key("doc");
      w.u64(e.doc);
      w.key("op");
      w.u64(e.op);
      w.key("server");
      w.i64(e.server);
      if (e.seq != 0) {  // only where the strategy numbers its writes
        w.key("seq");
        w.u64(e.seq);
      }
      break;
    case EventType::kSeen:
      w.key("client");
      w.u64(e.client);
      w.key("doc");
      w.u64(e.doc);
      w.key("author");
      w.u64(e.author);
      w.key("op");
      w.u64(e.op);
      w.key("server");
      w.i64(e.server);
      break;
    case EventType::kLoad:
      w.key("client");
      w.u64(e.client);
      w.key("doc");
      w.u64(e.doc);
      w.key("server");
      w.i64(e.server);
      w.key("version");
      w.u64(e.version);
      w.key("latest");
      w.u64(e.latest);
      w.key("source");
      w.str(e.source);
      break;
    case EventType::kFault:
    case EventType::kRecover:
      w.key("kind");
      w.str(e.kind);
      w.key("detail");
      w.str(e.detail);
      break;
    case EventType::kHeal:
      break;
    case EventType::kCounters:
      w.key("counters");
      w.nested_open();
      for (const auto& [k, v] : e.counters) {  // std::map: sorted names
        w.data_key(k);
        w.u64(v);
      }
      w.nested_close();
      break;
    case EventType::kFinal:
      w.key("doc");
      w.u64(e.doc);
      w.key("replica");
      w.str(e.replica);
      w.key("text");
      w.text(e.text);
      w.key("ids");
      w.runs(e.ids);
      break;
    case EventType::kRename:
      w.key("client");
      w.u64(e.client);
      w.key("doc");
      w.u64(e.doc);
      w.key("op");
      w.u64(e.op);
      w.key("server");
      w.i64(e.server);
      w.key("kind");
      w.str(e.kind);
      w.key("version");
      w.u64(e.version);
      w.key("detail");
      w.str(e.detail);
      break;
    case EventType::kCommit:
      w.key("doc");
      w.u64(e.doc);
      w.key("index");
      w.u64(e.version);
      w.key("server");
      w.i64(e.server);
      w.key("client");
      w.i64(e.writer);
      w.key("op");
      w.u64(e.op);
      if (e.taken_us >= 0) {  // a snapshot's, where known
        w.key("taken");
        w.i64(e.taken_us);
      }
      w.key("added");
      w.runs(e.inserted);
      w.key("removed");
      w.runs(e.deleted);
      break;
    case EventType::kOverruled:
      w.key("client");
      w.u64(e.client);
      w.key("doc");
      w.u64(e.doc);
      w.key("op");
      w.u64(e.op);
      w.key("by_client");
      w.i64(e.writer);
      w.key("by_op");
      w.u64(e.by_op);
      w.key("ids");
      w.runs(e.ids);
      break;
  }
  w.close();
}

}  // namespace

std::string to_json_line(const Event& e) {
  std::string line;
  append_line(line, e);
  return line;
}

// ---------------------------------------------------------------------------------------------
// Parsing

namespace {

std::string quoted(std::string_view key) { return "\"" + std::string(key) + "\""; }

// Reads typed values out of one line's object; every error names the key.
class Fields {
 public:
  explicit Fields(const json::object& o) : o_(o) {}

  const std::optional<Error>& error() const { return error_; }

  // A value read that its key's meaning rules out.
  void require(bool ok, std::string_view key, const std::string& what) {
    if (!ok) fail(key, what);
  }

  void i64(std::string_view key, std::int64_t& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (v->is_int64()) {
      out = v->get_int64();
    } else {
      fail(key, "expected a signed 64-bit integer");
    }
  }

  void u64(std::string_view key, std::uint64_t& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (v->is_uint64()) {
      out = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      out = static_cast<std::uint64_t>(v->get_int64());
    } else {
      fail(key, "expected an unsigned 64-bit integer");
    }
  }

  void u32(std::string_view key, std::uint32_t& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (v->is_int64() && v->get_int64() >= 0 && v->get_int64() <= std::numeric_limits<std::uint32_t>::max()) {
      out = static_cast<std::uint32_t>(v->get_int64());
    } else {
      fail(key, "expected an unsigned 32-bit integer");
    }
  }

  void i32(std::string_view key, std::int32_t& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (v->is_int64() && v->get_int64() >= std::numeric_limits<std::int32_t>::min() &&
        v->get_int64() <= std::numeric_limits<std::int32_t>::max()) {
      out = static_cast<std::int32_t>(v->get_int64());
    } else {
      fail(key, "expected a signed 32-bit integer");
    }
  }

  void boolean(std::string_view key, bool& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (v->is_bool()) {
      out = v->get_bool();
    } else {
      fail(key, "expected true or false");
    }
  }

  void str(std::string_view key, std::string& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (v->is_string()) {
      out = std::string(v->get_string());
    } else {
      fail(key, "expected a string");
    }
  }

  void text(std::string_view key, std::u32string& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (!v->is_string()) return fail(key, "expected a string");
    auto decoded = utf8_decode(v->get_string());
    if (!decoded) return fail(key, decoded.error().message);
    out = std::move(*decoded);
  }

  void runs(std::string_view key, std::vector<IdRun>& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (!v->is_array()) return fail(key, "expected an array of [agent, seq, count] runs");
    const json::array& a = v->get_array();
    out.clear();
    out.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      const std::string where = "element " + std::to_string(i);
      if (!a[i].is_array() || a[i].get_array().size() != 3) {
        return fail(key, where + ": expected [agent, seq, count]");
      }
      const json::array& t = a[i].get_array();
      std::array<std::uint32_t, 3> n{};
      for (std::size_t j = 0; j < 3; ++j) {
        if (!t[j].is_int64() || t[j].get_int64() < 0 || t[j].get_int64() > std::numeric_limits<std::uint32_t>::max()) {
          return fail(key, where + ": expected unsigned 32-bit integers");
        }
        n[j] = static_cast<std::uint32_t>(t[j].get_int64());
      }
      if (n[2] == 0) return fail(key, where + ": count must be at least 1");
      if (std::uint64_t{n[1]} + n[2] - 1 > std::numeric_limits<std::uint32_t>::max()) {
        return fail(key, where + ": run passes the largest seq");
      }
      out.push_back(IdRun{n[0], n[1], n[2]});
    }
  }

  void seen_ops(std::string_view key, std::map<std::uint32_t, std::uint32_t>& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (!v->is_object()) return fail(key, "expected an object of author -> op");
    out.clear();
    for (const auto& kv : v->get_object()) {
      const std::string_view name = kv.key();
      std::uint32_t author = 0;
      const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), author);
      const bool canonical = !name.empty() && (name.size() == 1 || name[0] != '0');
      if (ec != std::errc() || ptr != name.data() + name.size() || !canonical) {
        return fail(key, "author " + quoted(name) + " is not a decimal client number");
      }
      const json::value& op = kv.value();
      if (!op.is_int64() || op.get_int64() < 0 || op.get_int64() > std::numeric_limits<std::uint32_t>::max()) {
        return fail(key, "author " + quoted(name) + ": expected an unsigned 32-bit op");
      }
      out[author] = static_cast<std::uint32_t>(op.get_int64());
    }
  }

  void counters(std::string_view key, std::map<std::string, std::uint64_t>& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (!v->is_object()) return fail(key, "expected an object of name -> count");
    out.clear();
    for (const auto& kv : v->get_object()) {
      const json::value& n = kv.value();
      if (n.is_uint64()) {
        out[std::string(kv.key())] = n.get_uint64();
      } else if (n.is_int64() && n.get_int64() >= 0) {
        out[std::string(kv.key())] = static_cast<std::uint64_t>(n.get_int64());
      } else {
        return fail(key, "counter " + quoted(kv.key()) + ": expected an unsigned 64-bit integer");
      }
    }
  }

  void meta(std::string_view key, std::map<std::string, std::string>& out) {
    const json::value* v = get(key);
    if (v == nullptr) return;
    if (!v->is_object()) return fail(key, "expected an object of name -> string");
    out.clear();
    for (const auto& kv : v->get_object()) {
      if (!kv.value().is_string()) return fail(key, "entry " + quoted(kv.key()) + ": expected a string");
      out[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  }

 private:
  const json::value* get(std::string_view key) {
    if (error_) return nullptr;
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) fail(key, "missing");
    return v;
  }
  void fail(std::string_view key, const std::string& what) {
    if (!error_) error_ = make_error("key " + quoted(key) + ": " + what);
  }

  const json::object& o_;
  std::optional<Error> error_;
};

}  // namespace

Result<Event> from_json_line(const std::string& line) {
  boost::system::error_code ec;
  json::value root = json::parse(line, ec);
  if (ec) return make_error("invalid JSON: " + ec.message());
  if (!root.is_object()) return make_error("expected a JSON object");
  const json::object& o = root.get_object();

  const json::value* type = o.if_contains("type");
  if (type == nullptr) return make_error("key \"type\": missing");
  if (!type->is_string()) return make_error("key \"type\": expected a string");
  const TypeInfo* info = info_by_name(type->get_string());
  if (info == nullptr) {
    std::string names;
    for (const TypeInfo& i : type_infos()) names += (names.empty() ? "" : ", ") + std::string(i.name);
    return make_error("key \"type\": unknown event type " + quoted(type->get_string()) + " (one of " + names + ")");
  }
  for (const auto& kv : o) {
    bool known = false;
    for (std::string_view k : info->keys) known = known || k == kv.key();
    if (!known) {
      return make_error("key " + quoted(kv.key()) + ": not a key of a " + std::string(info->name) + " event");
    }
  }

  Event e;
  e.type = info->type;
  Fields f(o);
  f.i64("t", e.t_us);
  switch (e.type) {
    case EventType::kMeta:
      f.meta("meta", e.meta);
      break;
    case EventType::kEdit:
      f.u32("client", e.client);
      f.u32("doc", e.doc);
      f.u32("op", e.op);
      f.i32("server", e.server);
      f.i64("clock_ms", e.clock_ms);
      f.u64("pos", e.pos);
      f.u64("del", e.del);
      if (o.contains("del_newlines")) {  // optional
        std::uint64_t n = 0;
        f.u64("del_newlines", n);
        e.del_newlines = static_cast<std::int64_t>(std::min<std::uint64_t>(n, e.del));
      }
      f.text("ins", e.ins);
      f.u32("para", e.para);
      f.runs("inserted", e.inserted);
      f.runs("deleted", e.deleted);
      f.seen_ops("seen_ops", e.seen_ops);
      f.boolean("offline", e.offline);
      f.boolean("stale_base", e.stale_base);
      break;
    case EventType::kAck:
      f.u32("client", e.client);
      f.u32("doc", e.doc);
      f.u32("op", e.op);
      f.i32("server", e.server);
      if (o.contains("seq")) f.u64("seq", e.seq);  // optional
      break;
    case EventType::kSeen:
      f.u32("client", e.client);
      f.u32("doc", e.doc);
      f.u32("author", e.author);
      f.u32("op", e.op);
      f.i32("server", e.server);
      break;
    case EventType::kLoad:
      f.u32("client", e.client);
      f.u32("doc", e.doc);
      f.i32("server", e.server);
      f.u64("version", e.version);
      f.u64("latest", e.latest);
      f.str("source", e.source);
      break;
    case EventType::kFault:
    case EventType::kRecover:
      f.str("kind", e.kind);
      f.str("detail", e.detail);
      break;
    case EventType::kHeal:
      break;
    case EventType::kCounters:
      f.counters("counters", e.counters);
      break;
    case EventType::kFinal:
      f.u32("doc", e.doc);
      f.str("replica", e.replica);
      f.text("text", e.text);
      f.runs("ids", e.ids);
      break;
    case EventType::kRename:
      f.u32("client", e.client);
      f.u32("doc", e.doc);
      f.u32("op", e.op);
      f.i32("server", e.server);
      f.str("kind", e.kind);
      f.u64("version", e.version);
      f.str("detail", e.detail);
      break;
    case EventType::kCommit:
      f.u32("doc", e.doc);
      f.u64("index", e.version);
      f.i32("server", e.server);
      f.i32("client", e.writer);
      f.u32("op", e.op);
      if (o.contains("taken")) {  // optional: a snapshot's
        f.i64("taken", e.taken_us);
        f.require(e.taken_us >= 0, "taken", "expected a time, at least 0");
      }
      f.runs("added", e.inserted);
      f.runs("removed", e.deleted);
      break;
    case EventType::kOverruled:
      f.u32("client", e.client);
      f.u32("doc", e.doc);
      f.u32("op", e.op);
      f.i32("by_client", e.writer);
      f.u32("by_op", e.by_op);
      f.runs("ids", e.ids);
      break;
  }
  if (f.error()) return *f.error();
  return e;
}

// ---------------------------------------------------------------------------------------------
// Writer and reader

void Writer::write(const Event& e) {
  line_.clear();
  append_line(line_, e);
  line_.push_back('\n');
  // FNV-1a, byte by byte (eight at a time: the same sums, fewer loop steps).
  constexpr std::uint64_t kPrime = 0x100000001b3ull;
  std::uint64_t h = hash_;
  const auto* p = reinterpret_cast<const unsigned char*>(line_.data());
  const std::size_t n = line_.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h = (h ^ p[i]) * kPrime;
    h = (h ^ p[i + 1]) * kPrime;
    h = (h ^ p[i + 2]) * kPrime;
    h = (h ^ p[i + 3]) * kPrime;
    h = (h ^ p[i + 4]) * kPrime;
    h = (h ^ p[i + 5]) * kPrime;
    h = (h ^ p[i + 6]) * kPrime;
    h = (h ^ p[i + 7]) * kPrime;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * kPrime;
  hash_ = h;
  if (out_ != nullptr) out_->write(line_.data(), static_cast<std::streamsize>(line_.size()));
  ++events_;
}

std::string Writer::digest() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(16, '0');
  std::uint64_t h = hash_;
  for (int i = 15; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = kHex[h & 0xf];
    h >>= 4;
  }
  return s;
}

Result<std::vector<Event>> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open for reading");
  return read_stream(in, path);
}

Result<std::vector<Event>> read_stream(std::istream& in, const std::string& path) {
  std::vector<Event> events;
  std::string line;
  std::uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return make_error(path + ":" + std::to_string(number) + ": empty line");
    auto e = from_json_line(line);
    if (!e) return make_error(path + ":" + std::to_string(number) + ": " + e.error().message);
    events.push_back(std::move(*e));
  }
  if (in.bad()) return make_error(path + ":" + std::to_string(number + 1) + ": read error");
  return events;
}

}  // namespace convlab::history
