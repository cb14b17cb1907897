#include "server/strategies/paragraphs/codec.hpp"

#include "server/core/assert.hpp"
#include "server/core/utf8.hpp"
#include "server/core/wire.hpp"

#include <boost/json.hpp>

#include <limits>
#include <string>

namespace convlab::paragraphs {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();

// Which stamp fields a write carries: a client sends only its clock and counter.
enum class Form { kClient, kFull };

// ---------------------------------------------------------------------------------------------
// Checks shared by both decoders: the model's invariants, for untrusted input.

std::string check_paragraph(const Paragraph& p) {
  if (p.ids.size() != p.text.size()) return "ids do not match the text length";
  if (!p.exists) {
    if (!p.text.empty() || p.term != CharId{}) return "a paragraph that does not exist has content";
    return {};
  }
  for (char32_t c : p.text) {
    if (c == U'\n') return "paragraph text contains a newline";
  }
  return {};
}

std::string check_stamp(const Stamp& s, Form form) {
  if (s.counter == 0) return "write counter is 0";
  if (form == Form::kFull && s.seq == 0) return "accepted write has seq 0";
  return {};
}

std::string check_write(const Write& w, Form form) {
  if (w.index >= kParagraphsMax) return "paragraph index above its limit";
  if (std::string p = check_paragraph(w.value); !p.empty()) return p;
  return check_stamp(w.stamp, form);
}

std::string check_state(const State& s) {
  for (const Register& r : s.registers) {
    if (std::string p = check_paragraph(r.value); !p.empty()) return p;
    if (std::string p = check_stamp(r.stamp, Form::kFull); !p.empty()) return p;
    if (r.stamp.seq > s.version) return "register seq above the state's version";
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Binary.

void put_ids(Writer& w, const std::vector<CharId>& ids) {
  // Runs of one agent's consecutive counters: typing yields long runs.
  std::vector<std::pair<std::size_t, std::size_t>> runs;  // [start, end)
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!runs.empty() && ids[i].agent == ids[i - 1].agent && ids[i - 1].seq != kU32Max &&
        ids[i].seq == ids[i - 1].seq + 1) {
      runs.back().second = i + 1;
    } else {
      runs.emplace_back(i, i + 1);
    }
  }
  w.varint(runs.size());
  for (const auto& [b, e] : runs) {
    w.varint(ids[b].agent);
    w.varint(ids[b].seq);
    w.varint(e - b);
  }
}

std::vector<CharId> get_ids(Reader& r, std::size_t text_len) {
  // text_len is the length of a text already read from this message: sizing from it is bounded
  // by the message. Filled in place, run by run.
  std::vector<CharId> ids(text_len);
  std::size_t filled = 0;
  const std::uint64_t runs = r.varint_max(text_len, "id run count");
  for (std::uint64_t i = 0; i < runs && r.ok(); ++i) {
    const auto agent = static_cast<AgentId>(r.varint_max(kU32Max, "id agent"));
    const auto seq = r.varint_max(kU32Max, "id seq");
    const auto len = r.varint_max(text_len - filled, "id run length");
    if (!r.ok()) break;
    if (len == 0 || seq + len - 1 > kU32Max) {
      r.fail("bad id run");
      break;
    }
    for (std::uint64_t j = 0; j < len; ++j) {
      ids[filled++] = CharId{agent, static_cast<std::uint32_t>(seq + j)};
    }
  }
  if (r.ok() && filled != text_len) r.fail("ids do not cover the text");
  ids.resize(filled);
  return ids;
}

void put_paragraph(Writer& w, const Paragraph& p) {
  w.u8(p.exists ? 1 : 0);
  if (!p.exists) return;  // nothing else: the content of a missing paragraph is empty
  w.text(p.text);
  put_ids(w, p.ids);
  w.varint(p.term.agent);
  w.varint(p.term.seq);
}

Paragraph get_paragraph(Reader& r) {
  Paragraph p;
  const std::uint8_t exists = r.u8();
  if (exists > 1) r.fail("exists flag is not 0 or 1");
  if (!r.ok() || exists == 0) return p;
  p.exists = true;
  p.text = r.text();
  p.ids = get_ids(r, p.text.size());
  p.term.agent = static_cast<AgentId>(r.varint_max(kU32Max, "term agent"));
  p.term.seq = static_cast<std::uint32_t>(r.varint_max(kU32Max, "term seq"));
  return p;
}

void put_stamp(Writer& w, const Stamp& s, Form form) {
  w.svarint(s.clock_ms);
  w.varint(s.counter);
  if (form == Form::kClient) return;
  w.varint(s.agent);
  w.varint(s.seq);
  w.svarint(s.server_ms);
}

Stamp get_stamp(Reader& r, Form form) {
  Stamp s;
  s.clock_ms = r.svarint();
  s.counter = r.varint();
  if (form == Form::kClient) return s;
  s.agent = static_cast<AgentId>(r.varint_max(kU32Max, "stamp agent"));
  s.seq = r.varint();
  s.server_ms = r.svarint();
  return s;
}

void put_write(Writer& w, const Write& x, Form form) {
  w.varint(x.index);
  put_paragraph(w, x.value);
  put_stamp(w, x.stamp, form);
}

Write get_write(Reader& r, Form form) {
  Write x;
  x.index = static_cast<std::uint32_t>(r.varint_max(kParagraphsMax - 1, "paragraph index"));
  x.value = get_paragraph(r);
  x.stamp = get_stamp(r, form);
  if (r.ok()) {
    if (std::string p = check_write(x, form); !p.empty()) r.fail(p);
  }
  return x;
}

void put_writes(Writer& w, const std::vector<Write>& ws, Form form) {
  w.varint(ws.size());
  for (const Write& x : ws) put_write(w, x, form);
}

// Counts are capped by kParagraphsMax and, since every element takes at least one byte, by
// what is left of the message: no allocation is sized from the count itself.
std::vector<Write> get_writes(Reader& r, Form form) {
  std::vector<Write> ws;
  const std::uint64_t n = r.varint_max(kParagraphsMax, "write count");
  if (r.ok() && n > r.remaining()) r.fail("write count exceeds the message");
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) ws.push_back(get_write(r, form));
  return ws;
}

void put_state(Writer& w, const State& s) {
  w.varint(s.version);
  w.varint(s.registers.size());
  for (const Register& reg : s.registers) {
    put_paragraph(w, reg.value);
    put_stamp(w, reg.stamp, Form::kFull);
  }
}

State get_state(Reader& r) {
  State s;
  s.version = r.varint();
  const std::uint64_t n = r.varint_max(kParagraphsMax, "register count");
  if (r.ok() && n > r.remaining()) r.fail("register count exceeds the message");
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
    Register reg;
    reg.value = get_paragraph(r);
    reg.stamp = get_stamp(r, Form::kFull);
    s.registers.push_back(std::move(reg));
  }
  if (r.ok()) {
    if (std::string p = check_state(s); !p.empty()) r.fail(p);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// JSON.

json::value ids_json(const std::vector<CharId>& ids) {
  json::array out;
  std::size_t i = 0;
  while (i < ids.size()) {
    std::size_t j = i + 1;
    while (j < ids.size() && ids[j].agent == ids[i].agent && ids[j - 1].seq != kU32Max &&
           ids[j].seq == ids[j - 1].seq + 1) {
      ++j;
    }
    out.push_back(json::array{ids[i].agent, ids[i].seq, j - i});
    i = j;
  }
  return out;
}

json::object stamp_json(const Stamp& s, Form form) {
  json::object o;
  o["clock_ms"] = s.clock_ms;
  o["counter"] = s.counter;
  if (form == Form::kFull) {
    o["agent"] = s.agent;
    o["seq"] = s.seq;
    o["server_ms"] = s.server_ms;
  }
  return o;
}

json::object paragraph_json(const Paragraph& p) {
  json::object o;
  o["exists"] = p.exists;
  o["text"] = utf8_encode(p.text);
  o["ids"] = ids_json(p.ids);
  o["term"] = json::array{p.term.agent, p.term.seq};
  return o;
}

json::value write_json(const Write& w, Form form) {
  json::object o = paragraph_json(w.value);
  o["index"] = w.index;
  o["stamp"] = stamp_json(w.stamp, form);
  return o;
}

json::array writes_json(const std::vector<Write>& ws, Form form) {
  json::array a;
  for (const Write& w : ws) a.push_back(write_json(w, form));
  return a;
}

json::value state_json(const State& s) {
  json::object o;
  o["version"] = s.version;
  json::array regs;
  for (const Register& r : s.registers) {
    json::object ro = paragraph_json(r.value);
    ro["stamp"] = stamp_json(r.stamp, Form::kFull);
    regs.push_back(std::move(ro));
  }
  o["registers"] = std::move(regs);
  return o;
}

// Reads untrusted JSON; the first problem is kept, naming the field, and later reads return
// zeros (the same discipline as Reader).
class JsonIn {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& what) {
    if (error_.empty()) error_ = what;
  }

  const json::value* field(const json::value& v, const char* name) {
    if (!ok()) return nullptr;
    const json::object* o = v.if_object();
    if (o == nullptr) {
      fail(std::string("expected an object holding \"") + name + "\"");
      return nullptr;
    }
    const json::value* f = o->if_contains(name);
    if (f == nullptr) fail(std::string("missing field \"") + name + "\"");
    return f;
  }

  std::uint64_t u64(const json::value* v, std::uint64_t max, const char* what) {
    if (v == nullptr || !ok()) return 0;
    std::uint64_t x = 0;
    if (const auto* i = v->if_int64(); i != nullptr && *i >= 0) {
      x = static_cast<std::uint64_t>(*i);
    } else if (const auto* u = v->if_uint64(); u != nullptr) {
      x = *u;
    } else {
      fail(std::string(what) + " is not a non-negative integer");
      return 0;
    }
    if (x > max) {
      fail(std::string(what) + " is above its limit");
      return 0;
    }
    return x;
  }

  std::int64_t i64(const json::value* v, const char* what) {
    if (v == nullptr || !ok()) return 0;
    if (const auto* i = v->if_int64(); i != nullptr) return *i;
    fail(std::string(what) + " is not a 64-bit integer");
    return 0;
  }

  bool boolean(const json::value* v, const char* what) {
    if (v == nullptr || !ok()) return false;
    if (const bool* b = v->if_bool(); b != nullptr) return *b;
    fail(std::string(what) + " is not a boolean");
    return false;
  }

  const json::array* array(const json::value* v, const char* what) {
    if (v == nullptr || !ok()) return nullptr;
    const json::array* a = v->if_array();
    if (a == nullptr) fail(std::string(what) + " is not an array");
    return a;
  }

  std::u32string text(const json::value* v) {
    if (v == nullptr || !ok()) return {};
    const json::string* s = v->if_string();
    if (s == nullptr) {
      fail("text is not a string");
      return {};
    }
    auto decoded = utf8_decode(std::string_view(s->data(), s->size()));
    if (!decoded) {
      fail("text: " + decoded.error().message);
      return {};
    }
    return std::move(*decoded);
  }

  CharId char_id(const json::value* v, const char* what) {
    const json::array* a = array(v, what);
    if (a == nullptr) return {};
    if (a->size() != 2) {
      fail(std::string(what) + " is not [agent, seq]");
      return {};
    }
    return CharId{static_cast<AgentId>(u64(&(*a)[0], kU32Max, what)),
                  static_cast<std::uint32_t>(u64(&(*a)[1], kU32Max, what))};
  }

  std::vector<CharId> ids(const json::value* v, std::size_t text_len) {
    std::vector<CharId> out;
    const json::array* a = array(v, "ids");
    if (a == nullptr) return out;
    for (const json::value& run : *a) {
      const json::array* r = array(&run, "id run");
      if (r == nullptr) break;
      if (r->size() != 3) {
        fail("id run is not [agent, seq, length]");
        break;
      }
      const auto agent = static_cast<AgentId>(u64(&(*r)[0], kU32Max, "id agent"));
      const std::uint64_t seq = u64(&(*r)[1], kU32Max, "id seq");
      const std::uint64_t len = u64(&(*r)[2], text_len - out.size(), "id run length");
      if (!ok()) break;
      if (len == 0 || seq + len - 1 > kU32Max) {
        fail("bad id run");
        break;
      }
      for (std::uint64_t j = 0; j < len; ++j) out.push_back(CharId{agent, static_cast<std::uint32_t>(seq + j)});
    }
    if (ok() && out.size() != text_len) fail("ids do not cover the text");
    return out;
  }

  Paragraph paragraph(const json::value& v) {
    Paragraph p;
    p.exists = boolean(field(v, "exists"), "exists");
    p.text = text(field(v, "text"));
    p.ids = ids(field(v, "ids"), p.text.size());
    p.term = char_id(field(v, "term"), "term");
    if (ok()) {
      if (std::string e = check_paragraph(p); !e.empty()) fail(e);
    }
    return p;
  }

  Stamp stamp(const json::value* v, Form form) {
    Stamp s;
    if (v == nullptr) return s;
    s.clock_ms = i64(field(*v, "clock_ms"), "clock_ms");
    s.counter = u64(field(*v, "counter"), UINT64_MAX, "counter");
    if (form == Form::kFull) {
      s.agent = static_cast<AgentId>(u64(field(*v, "agent"), kU32Max, "agent"));
      s.seq = u64(field(*v, "seq"), UINT64_MAX, "seq");
      s.server_ms = i64(field(*v, "server_ms"), "server_ms");
    }
    return s;
  }

  Write write(const json::value& v, Form form) {
    Write w;
    w.index = static_cast<std::uint32_t>(u64(field(v, "index"), kParagraphsMax - 1, "index"));
    w.value = paragraph(v);
    w.stamp = stamp(field(v, "stamp"), form);
    if (ok()) {
      if (std::string e = check_write(w, form); !e.empty()) fail(e);
    }
    return w;
  }

  std::vector<Write> writes(const json::value& v, Form form) {
    std::vector<Write> out;
    const json::array* a = array(field(v, "writes"), "writes");
    if (a == nullptr) return out;
    if (a->size() > kParagraphsMax) fail("too many writes");
    for (const json::value& w : *a) {
      if (!ok()) break;
      out.push_back(write(w, form));
    }
    return out;
  }

  State state(const json::value& v) {
    State s;
    s.version = u64(field(v, "version"), UINT64_MAX, "version");
    const json::array* a = array(field(v, "registers"), "registers");
    if (a == nullptr) return s;
    if (a->size() > kParagraphsMax) fail("too many registers");
    for (const json::value& r : *a) {
      if (!ok()) break;
      Register reg;
      reg.value = paragraph(r);
      reg.stamp = stamp(field(r, "stamp"), Form::kFull);
      s.registers.push_back(std::move(reg));
    }
    if (ok()) {
      if (std::string e = check_state(s); !e.empty()) fail(e);
    }
    return s;
  }

 private:
  std::string error_;
};

}  // namespace

Bytes encode(const Message& m) {
  Writer w;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ClientWrites>) {
          w.u8(static_cast<std::uint8_t>(Tag::kClientWrites));
          put_writes(w, x.writes, Form::kClient);
        } else if constexpr (std::is_same_v<T, Broadcast>) {
          w.u8(static_cast<std::uint8_t>(Tag::kBroadcast));
          put_writes(w, x.writes, Form::kFull);
        } else if constexpr (std::is_same_v<T, Record>) {
          w.u8(static_cast<std::uint8_t>(Tag::kRecord));
          put_writes(w, x.writes, Form::kFull);
        } else if constexpr (std::is_same_v<T, Ack>) {
          w.u8(static_cast<std::uint8_t>(Tag::kAck));
          w.varint(x.entries.size());
          for (const AckEntry& e : x.entries) {
            if (e.winner) {
              w.u8(1);
              put_write(w, *e.winner, Form::kFull);
            } else {
              w.u8(0);
              w.varint(e.seq);
              w.svarint(e.server_ms);
            }
          }
        } else if constexpr (std::is_same_v<T, Welcome>) {
          w.u8(static_cast<std::uint8_t>(Tag::kWelcome));
          put_state(w, x.state);
        } else {
          static_assert(std::is_same_v<T, Snapshot>);
          w.u8(static_cast<std::uint8_t>(Tag::kSnapshot));
          put_state(w, x.state);
        }
      },
      m);
  return w.take();
}

Bytes retag_writes(std::span<const std::uint8_t> msg, Tag tag) {
  CONVLAB_ASSERT(tag == Tag::kBroadcast || tag == Tag::kRecord);
  CONVLAB_ASSERT(!msg.empty() && (msg[0] == static_cast<std::uint8_t>(Tag::kBroadcast) ||
                                  msg[0] == static_cast<std::uint8_t>(Tag::kRecord)));
  Bytes out(msg.begin(), msg.end());
  out[0] = static_cast<std::uint8_t>(tag);
  return out;
}

Result<Message> decode(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  const std::uint8_t tag = r.u8();
  Message m;
  switch (tag) {
    case static_cast<std::uint8_t>(Tag::kClientWrites):
      m = ClientWrites{get_writes(r, Form::kClient)};
      break;
    case static_cast<std::uint8_t>(Tag::kBroadcast):
      m = Broadcast{get_writes(r, Form::kFull)};
      break;
    case static_cast<std::uint8_t>(Tag::kRecord):
      m = Record{get_writes(r, Form::kFull)};
      break;
    case static_cast<std::uint8_t>(Tag::kAck): {
      Ack a;
      const std::uint64_t n = r.varint_max(kParagraphsMax, "ack entry count");
      if (r.ok() && n > r.remaining()) r.fail("ack entry count exceeds the message");
      for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
        AckEntry e;
        const std::uint8_t kind = r.u8();
        if (kind == 0) {
          e.seq = r.varint();
          e.server_ms = r.svarint();
          if (r.ok() && e.seq == 0) r.fail("accepted write has seq 0");
        } else if (kind == 1) {
          e.winner = get_write(r, Form::kFull);
        } else {
          r.fail("unknown ack entry kind");
        }
        a.entries.push_back(std::move(e));
      }
      m = std::move(a);
      break;
    }
    case static_cast<std::uint8_t>(Tag::kWelcome):
      m = Welcome{get_state(r)};
      break;
    case static_cast<std::uint8_t>(Tag::kSnapshot):
      m = Snapshot{get_state(r)};
      break;
    default:
      if (r.ok()) r.fail("unknown message tag " + std::to_string(tag));
  }
  if (auto done = r.finish(); !done) return done.error();
  return m;
}

json::value to_json(const Message& m) {
  json::object o;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ClientWrites>) {
          o["type"] = "writes";
          o["writes"] = writes_json(x.writes, Form::kClient);
        } else if constexpr (std::is_same_v<T, Broadcast>) {
          o["type"] = "broadcast";
          o["writes"] = writes_json(x.writes, Form::kFull);
        } else if constexpr (std::is_same_v<T, Record>) {
          o["type"] = "record";
          o["writes"] = writes_json(x.writes, Form::kFull);
        } else if constexpr (std::is_same_v<T, Ack>) {
          o["type"] = "ack";
          json::array entries;
          for (const AckEntry& e : x.entries) {
            json::object eo;
            if (e.winner) {
              eo["winner"] = write_json(*e.winner, Form::kFull);
            } else {
              eo["seq"] = e.seq;
              eo["server_ms"] = e.server_ms;
            }
            entries.push_back(std::move(eo));
          }
          o["entries"] = std::move(entries);
        } else if constexpr (std::is_same_v<T, Welcome>) {
          o["type"] = "welcome";
          o["state"] = state_json(x.state);
        } else {
          o["type"] = "snapshot";
          o["state"] = state_json(x.state);
        }
      },
      m);
  return o;
}

Result<Message> from_json(const json::value& v) {
  JsonIn in;
  const json::value* type = in.field(v, "type");
  if (!in.ok()) return make_error(in.error());
  const json::string* t = type->if_string();
  if (t == nullptr) return make_error("\"type\" is not a string");
  Message m;
  if (*t == "writes") {
    m = ClientWrites{in.writes(v, Form::kClient)};
  } else if (*t == "broadcast") {
    m = Broadcast{in.writes(v, Form::kFull)};
  } else if (*t == "record") {
    m = Record{in.writes(v, Form::kFull)};
  } else if (*t == "ack") {
    Ack a;
    const json::array* entries = in.array(in.field(v, "entries"), "entries");
    if (entries != nullptr && entries->size() > kParagraphsMax) in.fail("too many ack entries");
    if (entries != nullptr) {
      for (const json::value& e : *entries) {
        if (!in.ok()) break;
        AckEntry entry;
        const json::object* eo = e.if_object();
        if (eo != nullptr && eo->contains("winner")) {
          entry.winner = in.write(*eo->if_contains("winner"), Form::kFull);
        } else {
          entry.seq = in.u64(in.field(e, "seq"), UINT64_MAX, "seq");
          entry.server_ms = in.i64(in.field(e, "server_ms"), "server_ms");
          if (in.ok() && entry.seq == 0) in.fail("accepted write has seq 0");
        }
        a.entries.push_back(std::move(entry));
      }
    }
    m = std::move(a);
  } else if (*t == "welcome") {
    const json::value* s = in.field(v, "state");
    if (s != nullptr) m = Welcome{in.state(*s)};
  } else if (*t == "snapshot") {
    const json::value* s = in.field(v, "state");
    if (s != nullptr) m = Snapshot{in.state(*s)};
  } else {
    in.fail("unknown message type \"" + std::string(t->data(), t->size()) + "\"");
  }
  if (!in.ok()) return make_error(in.error());
  return m;
}

}  // namespace convlab::paragraphs
