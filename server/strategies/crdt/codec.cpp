#include "server/strategies/crdt/codec.hpp"

#include "server/core/utf8.hpp"
#include "server/core/wire.hpp"

#include <boost/json.hpp>

#include <limits>
#include <string>
#include <utility>

namespace convlab::crdt {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kU32Max = 0xffffffffu;

// ---- binary -----------------------------------------------------------------------------------

void put_id(Writer& w, CharId id) {
  w.varint(id.agent);
  w.varint(id.seq);
}

// 0 = none (document start or end), else agent + 1 then seq.
void put_opt_id(Writer& w, const std::optional<CharId>& id) {
  if (!id) {
    w.varint(0);
    return;
  }
  w.varint(static_cast<std::uint64_t>(id->agent) + 1);
  w.varint(id->seq);
}

CharId get_id(Reader& r) {
  CharId id;
  id.agent = static_cast<AgentId>(r.varint_max(kU32Max, "agent"));
  id.seq = static_cast<std::uint32_t>(r.varint_max(kU32Max, "seq"));
  return id;
}

std::optional<CharId> get_opt_id(Reader& r) {
  const std::uint64_t tag = r.varint_max(kU32Max + 1, "agent");
  if (tag == 0) return std::nullopt;
  CharId id;
  id.agent = static_cast<AgentId>(tag - 1);
  id.seq = static_cast<std::uint32_t>(r.varint_max(kU32Max, "seq"));
  return id;
}

std::size_t id_size(CharId id) { return Writer::varint_size(id.agent) + Writer::varint_size(id.seq); }

std::size_t opt_id_size(const std::optional<CharId>& id) {
  if (!id) return 1;
  return Writer::varint_size(static_cast<std::uint64_t>(id->agent) + 1) + Writer::varint_size(id->seq);
}

// The bytes put_op writes.
std::size_t op_size(const Op& op) {
  if (const auto* ins = std::get_if<InsertOp>(&op)) {
    return 1 + id_size(ins->id) + opt_id_size(ins->left) + opt_id_size(ins->right) + Writer::text_size(ins->text);
  }
  const auto& del = std::get<DeleteOp>(op);
  std::size_t n = 1 + Writer::varint_size(del.ranges.size());
  for (const IdRange& rg : del.ranges) n += id_size(rg.first) + Writer::varint_size(rg.len);
  return n;
}

void put_op(Writer& w, const Op& op) {
  if (const auto* ins = std::get_if<InsertOp>(&op)) {
    w.u8(static_cast<std::uint8_t>(Kind::kInsert));
    put_id(w, ins->id);
    put_opt_id(w, ins->left);
    put_opt_id(w, ins->right);
    w.text(ins->text);
    return;
  }
  const auto& del = std::get<DeleteOp>(op);
  w.u8(static_cast<std::uint8_t>(Kind::kDelete));
  w.varint(del.ranges.size());
  for (const IdRange& rg : del.ranges) {
    put_id(w, rg.first);
    w.varint(rg.len);
  }
}

// Reads an op body whose kind byte was already read.
Op get_op(Reader& r, Kind kind) {
  if (kind == Kind::kInsert) {
    InsertOp ins;
    ins.id = get_id(r);
    ins.left = get_opt_id(r);
    ins.right = get_opt_id(r);
    ins.text = r.text();
    if (r.ok() && ins.text.empty()) r.fail("insert with empty text");
    return ins;
  }
  DeleteOp del;
  // Each range takes at least three bytes, so a count above the bytes left is a lie; checking
  // it first keeps a hostile count from becoming a huge allocation.
  const std::uint64_t count = r.varint_max(r.remaining(), "delete range count");
  if (r.ok() && count == 0) r.fail("delete with no ranges");
  del.ranges.reserve(count);
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    IdRange rg;
    rg.first = get_id(r);
    rg.len = static_cast<std::uint32_t>(r.varint_max(kU32Max, "delete range length"));
    if (r.ok() && rg.len == 0) r.fail("delete range of length 0");
    del.ranges.push_back(rg);
  }
  return del;
}

template <typename Run>
void put_run(Writer& w, const Run& run) {
  put_id(w, run.id);
  put_opt_id(w, run.left);
  put_opt_id(w, run.right);
  w.u8(run.deleted ? 1 : 0);
  w.text(run.text);
}

void put_state(Writer& w, const std::vector<StateRun>& runs) {
  w.varint(runs.size());
  for (const StateRun& run : runs) put_run(w, run);
}

std::vector<StateRun> get_state(Reader& r) {
  std::vector<StateRun> runs;
  const std::uint64_t count = r.varint_max(r.remaining(), "state run count");
  runs.reserve(count);
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    StateRun run;
    run.id = get_id(r);
    run.left = get_opt_id(r);
    run.right = get_opt_id(r);
    const std::uint8_t deleted = r.u8();
    if (r.ok() && deleted > 1) r.fail("deleted flag is neither 0 nor 1");
    run.deleted = deleted == 1;
    run.text = r.text();
    if (r.ok() && run.text.empty()) r.fail("state run with empty text");
    runs.push_back(std::move(run));
  }
  return runs;
}

// ---- JSON -------------------------------------------------------------------------------------

json::value id_json(CharId id) { return json::array{id.agent, id.seq}; }

json::value opt_id_json(const std::optional<CharId>& id) {
  if (!id) return nullptr;
  return id_json(*id);
}

std::string utf8(const std::u32string& s) { return utf8_encode(s); }

json::value op_json(const Op& op) {
  if (const auto* ins = std::get_if<InsertOp>(&op)) {
    return json::object{{"type", "insert"},
                        {"id", id_json(ins->id)},
                        {"left", opt_id_json(ins->left)},
                        {"right", opt_id_json(ins->right)},
                        {"text", utf8(ins->text)}};
  }
  json::array ranges;
  for (const IdRange& rg : std::get<DeleteOp>(op).ranges) {
    ranges.push_back(json::array{rg.first.agent, rg.first.seq, rg.len});
  }
  return json::object{{"type", "delete"}, {"ranges", std::move(ranges)}};
}

// JSON reading: each helper returns an Error naming the field.
Result<std::uint64_t> get_uint(const json::value& v, std::uint64_t max, const char* what) {
  std::uint64_t out = 0;
  if (const auto* u = v.if_uint64()) {
    out = *u;
  } else if (const auto* i = v.if_int64()) {
    if (*i < 0) return make_error(std::string(what) + " is negative");
    out = static_cast<std::uint64_t>(*i);
  } else {
    return make_error(std::string(what) + " is not an integer");
  }
  if (out > max) return make_error(std::string(what) + " is above " + std::to_string(max));
  return out;
}

Result<const json::value*> field(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return make_error(std::string("missing field \"") + name + "\"");
  return v;
}

Result<CharId> get_id_json(const json::value& v, const char* what) {
  const json::array* a = v.if_array();
  if (a == nullptr || a->size() != 2) return make_error(std::string(what) + " is not [agent, seq]");
  auto agent = get_uint((*a)[0], kU32Max, what);
  if (!agent) return agent.error();
  auto seq = get_uint((*a)[1], kU32Max, what);
  if (!seq) return seq.error();
  return CharId{static_cast<AgentId>(*agent), static_cast<std::uint32_t>(*seq)};
}

Result<std::optional<CharId>> get_opt_id_json(const json::value& v, const char* what) {
  if (v.is_null()) return std::optional<CharId>{};
  auto id = get_id_json(v, what);
  if (!id) return id.error();
  return std::optional<CharId>{*id};
}

Result<std::u32string> get_text_json(const json::value& v, const char* what) {
  const json::string* s = v.if_string();
  if (s == nullptr) return make_error(std::string(what) + " is not a string");
  auto decoded = utf8_decode(std::string_view(s->data(), s->size()));
  if (!decoded) return make_error(std::string(what) + ": " + decoded.error().message);
  if (decoded->empty()) return make_error(std::string(what) + " is empty");
  return std::move(*decoded);
}

Result<Op> op_from_json(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr) return make_error("op is not an object");
  auto type = field(*o, "type");
  if (!type) return type.error();
  const json::string* t = (*type)->if_string();
  if (t == nullptr) return make_error("op type is not a string");
  if (*t == "insert") {
    InsertOp ins;
    auto id = field(*o, "id");
    if (!id) return id.error();
    auto idv = get_id_json(**id, "id");
    if (!idv) return idv.error();
    ins.id = *idv;
    for (const char* side : {"left", "right"}) {
      auto f = field(*o, side);
      if (!f) return f.error();
      auto val = get_opt_id_json(**f, side);
      if (!val) return val.error();
      (side[0] == 'l' ? ins.left : ins.right) = *val;
    }
    auto text = field(*o, "text");
    if (!text) return text.error();
    auto tv = get_text_json(**text, "text");
    if (!tv) return tv.error();
    ins.text = std::move(*tv);
    return Op{std::move(ins)};
  }
  if (*t == "delete") {
    DeleteOp del;
    auto ranges = field(*o, "ranges");
    if (!ranges) return ranges.error();
    const json::array* arr = (*ranges)->if_array();
    if (arr == nullptr || arr->empty()) return make_error("ranges is not a non-empty array");
    for (const json::value& rv : *arr) {
      const json::array* ra = rv.if_array();
      if (ra == nullptr || ra->size() != 3) return make_error("a range is not [agent, seq, len]");
      auto agent = get_uint((*ra)[0], kU32Max, "range agent");
      if (!agent) return agent.error();
      auto seq = get_uint((*ra)[1], kU32Max, "range seq");
      if (!seq) return seq.error();
      auto len = get_uint((*ra)[2], kU32Max, "range len");
      if (!len) return len.error();
      if (*len == 0) return make_error("range of length 0");
      del.ranges.push_back(IdRange{CharId{static_cast<AgentId>(*agent), static_cast<std::uint32_t>(*seq)},
                                   static_cast<std::uint32_t>(*len)});
    }
    return Op{std::move(del)};
  }
  return make_error("unknown op type \"" + std::string(t->data(), t->size()) + "\"");
}

Result<std::vector<StateRun>> state_from_json(const json::object& o) {
  auto runs = field(o, "runs");
  if (!runs) return runs.error();
  const json::array* arr = (*runs)->if_array();
  if (arr == nullptr) return make_error("runs is not an array");
  std::vector<StateRun> out;
  out.reserve(arr->size());
  for (const json::value& rv : *arr) {
    const json::object* ro = rv.if_object();
    if (ro == nullptr) return make_error("a run is not an object");
    StateRun run;
    auto id = field(*ro, "id");
    if (!id) return id.error();
    auto idv = get_id_json(**id, "run id");
    if (!idv) return idv.error();
    run.id = *idv;
    for (const char* side : {"left", "right"}) {
      auto f = field(*ro, side);
      if (!f) return f.error();
      auto val = get_opt_id_json(**f, side);
      if (!val) return val.error();
      (side[0] == 'l' ? run.left : run.right) = *val;
    }
    auto del = field(*ro, "deleted");
    if (!del) return del.error();
    if (!(*del)->is_bool()) return make_error("deleted is not a bool");
    run.deleted = (*del)->get_bool();
    auto text = field(*ro, "text");
    if (!text) return text.error();
    auto tv = get_text_json(**text, "run text");
    if (!tv) return tv.error();
    run.text = std::move(*tv);
    out.push_back(std::move(run));
  }
  return out;
}

}  // namespace

Message op_message(const Op& op) {
  Message m;
  m.kind = std::holds_alternative<InsertOp>(op) ? Kind::kInsert : Kind::kDelete;
  m.op = op;
  return m;
}

Bytes encode_op(const Op& op) {
  Writer w;
  w.reserve(op_size(op));
  put_op(w, op);
  return w.take();
}

Bytes encode_state(Kind kind, std::uint64_t version, const Doc& doc) {
  Writer body;
  std::uint64_t runs = 0;
  doc.for_each_run([&](const Doc::RunView& run) {
    put_run(body, run);
    ++runs;
  });
  Writer w;
  w.reserve(1 + Writer::varint_size(version) + Writer::varint_size(runs) + body.view().size());
  w.u8(static_cast<std::uint8_t>(kind));
  w.varint(version);
  w.varint(runs);
  Bytes out = w.take();
  out.insert(out.end(), body.view().begin(), body.view().end());
  return out;
}

Bytes record_op_bytes(std::span<const std::uint8_t> record, const Message& m) {
  // Minimal varints are the shortest: the sizes add up only when every field is minimal, and
  // then the bytes after the header are exactly what put_op writes.
  const std::size_t header =
      1 + Writer::varint_size(m.version) + Writer::svarint_size(m.clock_ms) + Writer::varint_size(m.from);
  if (record.size() == header + op_size(m.op)) return Bytes(record.begin() + static_cast<std::ptrdiff_t>(header), record.end());
  return encode_op(m.op);
}

Bytes encode(const Message& m) {
  Writer w;
  switch (m.kind) {
    case Kind::kInsert:
    case Kind::kDelete:
      w.reserve(op_size(m.op));
      put_op(w, m.op);
      break;
    case Kind::kAck:
      w.u8(static_cast<std::uint8_t>(m.kind));
      w.varint(m.version);
      break;
    case Kind::kWelcome:
    case Kind::kSnapshot:
      w.u8(static_cast<std::uint8_t>(m.kind));
      w.varint(m.version);
      put_state(w, m.state);
      break;
    case Kind::kRecord:
      w.reserve(1 + Writer::varint_size(m.version) + Writer::svarint_size(m.clock_ms) + Writer::varint_size(m.from) +
                op_size(m.op));
      w.u8(static_cast<std::uint8_t>(m.kind));
      w.varint(m.version);
      w.svarint(m.clock_ms);
      w.varint(m.from);
      put_op(w, m.op);
      break;
  }
  return w.take();
}

Result<Message> decode(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  Message m;
  const std::uint8_t kind = r.u8();
  if (!r.ok()) return r.error();
  switch (kind) {
    case static_cast<std::uint8_t>(Kind::kInsert):
    case static_cast<std::uint8_t>(Kind::kDelete):
      m.kind = static_cast<Kind>(kind);
      m.op = get_op(r, m.kind);
      break;
    case static_cast<std::uint8_t>(Kind::kAck):
      m.kind = Kind::kAck;
      m.version = r.varint();
      break;
    case static_cast<std::uint8_t>(Kind::kWelcome):
    case static_cast<std::uint8_t>(Kind::kSnapshot):
      m.kind = static_cast<Kind>(kind);
      m.version = r.varint();
      m.state = get_state(r);
      break;
    case static_cast<std::uint8_t>(Kind::kRecord): {
      m.kind = Kind::kRecord;
      m.version = r.varint();
      m.clock_ms = r.svarint();
      m.from = static_cast<AgentId>(r.varint_max(kU32Max, "record author"));
      const std::uint8_t op_kind = r.u8();
      if (r.ok() && op_kind != static_cast<std::uint8_t>(Kind::kInsert) &&
          op_kind != static_cast<std::uint8_t>(Kind::kDelete)) {
        r.fail("record holds a message of kind " + std::to_string(op_kind) + ", not an op");
      }
      if (r.ok()) m.op = get_op(r, static_cast<Kind>(op_kind));
      break;
    }
    default:
      return make_error("at byte 0: unknown crdt message kind " + std::to_string(kind));
  }
  auto done = r.finish();
  if (!done) return done.error();
  return m;
}

json::value to_json(const Message& m) {
  switch (m.kind) {
    case Kind::kInsert:
    case Kind::kDelete:
      return op_json(m.op);
    case Kind::kAck:
      return json::object{{"type", "ack"}, {"version", m.version}};
    case Kind::kWelcome:
    case Kind::kSnapshot: {
      json::array runs;
      for (const StateRun& run : m.state) {
        runs.push_back(json::object{{"id", id_json(run.id)},
                                    {"left", opt_id_json(run.left)},
                                    {"right", opt_id_json(run.right)},
                                    {"deleted", run.deleted},
                                    {"text", utf8(run.text)}});
      }
      return json::object{{"type", m.kind == Kind::kWelcome ? "welcome" : "snapshot"},
                          {"version", m.version},
                          {"runs", std::move(runs)}};
    }
    case Kind::kRecord:
      return json::object{{"type", "record"},
                          {"version", m.version},
                          {"clock_ms", m.clock_ms},
                          {"from", m.from},
                          {"op", op_json(m.op)}};
  }
  return nullptr;
}

Result<Message> message_from_json(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr) return make_error("crdt message is not a JSON object");
  auto type = field(*o, "type");
  if (!type) return type.error();
  const json::string* t = (*type)->if_string();
  if (t == nullptr) return make_error("type is not a string");
  Message m;
  if (*t == "insert" || *t == "delete") {
    auto op = op_from_json(v);
    if (!op) return op.error();
    return op_message(*op);
  }
  auto version_field = field(*o, "version");
  if (!version_field) return version_field.error();
  auto version = get_uint(**version_field, std::numeric_limits<std::uint64_t>::max(), "version");
  if (!version) return version.error();
  m.version = *version;
  if (*t == "ack") {
    m.kind = Kind::kAck;
    return m;
  }
  if (*t == "welcome" || *t == "snapshot") {
    m.kind = *t == "welcome" ? Kind::kWelcome : Kind::kSnapshot;
    auto state = state_from_json(*o);
    if (!state) return state.error();
    m.state = std::move(*state);
    return m;
  }
  if (*t == "record") {
    m.kind = Kind::kRecord;
    auto clock = field(*o, "clock_ms");
    if (!clock) return clock.error();
    if (const auto* i = (*clock)->if_int64()) {
      m.clock_ms = *i;
    } else {
      return make_error("clock_ms is not a 64-bit integer");
    }
    auto from = field(*o, "from");
    if (!from) return from.error();
    auto fv = get_uint(**from, kU32Max, "from");
    if (!fv) return fv.error();
    m.from = static_cast<AgentId>(*fv);
    auto opf = field(*o, "op");
    if (!opf) return opf.error();
    auto op = op_from_json(**opf);
    if (!op) return op.error();
    m.op = std::move(*op);
    return m;
  }
  return make_error("unknown crdt message type \"" + std::string(t->data(), t->size()) + "\"");
}

}  // namespace convlab::crdt
