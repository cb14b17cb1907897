#include "server/net/frames.hpp"

#include "server/core/awareness.hpp"

#include <boost/json.hpp>

namespace convlab::net {

namespace json = boost::json;

namespace {

bool client_kind(FrameKind k) {
  return k == FrameKind::kHello || k == FrameKind::kEdit || k == FrameKind::kSubscribe || k == FrameKind::kRename ||
         k == FrameKind::kAwareness;
}

const char* type_name(FrameKind k) {
  switch (k) {
    case FrameKind::kHello: return "hello";
    case FrameKind::kEdit: return "edit";
    case FrameKind::kWelcome: return "welcome";
    case FrameKind::kDeliver: return "deliver";
    case FrameKind::kRefused: return "refused";
    case FrameKind::kSubscribe: return "subscribe";
    case FrameKind::kRename: return "rename";
    case FrameKind::kTitle: return "title";
    case FrameKind::kAwareness: return "awareness";
    case FrameKind::kPresence: return "presence";
    case FrameKind::kVersion: return "version";
  }
  return "?";
}

// A non-negative integer field at most `max`, or an error naming it.
std::variant<std::uint64_t, FrameError> uint_field(const json::object& o, const char* name, std::uint64_t max) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return FrameError{close_code::kBadField, std::string("missing field '") + name + "'"};
  if (const auto* u = v->if_uint64(); u != nullptr && *u <= max) return *u;
  if (const auto* i = v->if_int64(); i != nullptr && *i >= 0 && static_cast<std::uint64_t>(*i) <= max) {
    return static_cast<std::uint64_t>(*i);
  }
  return FrameError{close_code::kBadField,
                    std::string("field '") + name + "' must be an integer in [0, " + std::to_string(max) + "]"};
}

}  // namespace

ParsedFrame parse_binary_frame(std::span<const std::uint8_t> bytes) {
  auto f = decode_frame(bytes);
  if (!f) return FrameError{close_code::kBadBinary, "bad frame: " + f.error().message};
  if (!client_kind(f->kind)) {
    return FrameError{close_code::kUnknownType, std::string("a client may not send '") + type_name(f->kind) + "' frames"};
  }
  return std::move(*f);
}

namespace {

// One frame object of a text message (a JSON value already parsed).
ParsedFrame json_frame(const json::value& v, const std::function<const Strategy&(std::uint32_t)>& strategy_of) {
  const json::object* o = v.if_object();
  if (o == nullptr) return FrameError{close_code::kBadField, "a frame must be a JSON object"};
  const json::value* type = o->if_contains("type");
  if (type == nullptr || !type->is_string()) return FrameError{close_code::kBadField, "field 'type' must be a string"};
  const json::string& t = type->get_string();
  auto doc = uint_field(*o, "doc", 0xffffffffu);
  Frame f;
  if (t == "hello") {
    f.kind = FrameKind::kHello;
  } else if (t == "edit") {
    f.kind = FrameKind::kEdit;
  } else if (t == "subscribe") {
    f.kind = FrameKind::kSubscribe;
  } else if (t == "rename") {
    f.kind = FrameKind::kRename;
  } else if (t == "awareness") {
    f.kind = FrameKind::kAwareness;
  } else {
    return FrameError{close_code::kUnknownType, "unknown frame type '" + std::string(t) + "'"};
  }
  if (auto* e = std::get_if<FrameError>(&doc)) return *e;
  f.doc = static_cast<std::uint32_t>(std::get<std::uint64_t>(doc));
  switch (f.kind) {
    case FrameKind::kHello: {
      // Optional "versions": true asks for `version` frames (docs/protocol.md).
      const json::value* versions = o->if_contains("versions");
      if (versions != nullptr && !versions->is_bool()) return FrameError{close_code::kBadField, "field 'versions' must be a boolean"};
      if (versions != nullptr && versions->get_bool()) f.payload = Bytes{kHelloVersions};
      break;
    }
    case FrameKind::kEdit: {
      const json::value* msg = o->if_contains("msg");
      if (msg == nullptr) return FrameError{close_code::kBadField, "missing field 'msg'"};
      auto bytes = strategy_of(f.doc).from_json(*msg);
      if (!bytes) return FrameError{close_code::kBadField, "field 'msg': " + bytes.error().message};
      f.payload = std::move(*bytes);
      break;
    }
    case FrameKind::kSubscribe: {
      auto version = uint_field(*o, "version", ~std::uint64_t{0});
      if (auto* e = std::get_if<FrameError>(&version)) return *e;
      // Optional "versions": true asks for `version` frames, as on a hello.
      const json::value* versions = o->if_contains("versions");
      if (versions != nullptr && !versions->is_bool()) return FrameError{close_code::kBadField, "field 'versions' must be a boolean"};
      f.payload = encode_subscribe(std::get<std::uint64_t>(version), versions != nullptr && versions->get_bool());
      break;
    }
    case FrameKind::kRename: {
      auto base = uint_field(*o, "base", ~std::uint64_t{0});
      if (auto* e = std::get_if<FrameError>(&base)) return *e;
      const json::value* title = o->if_contains("title");
      if (title == nullptr || !title->is_string()) return FrameError{close_code::kBadField, "field 'title' must be a string"};
      f.payload = encode_rename(RenameMsg{std::get<std::uint64_t>(base), std::string(title->get_string())});
      break;
    }
    case FrameKind::kAwareness: {
      auto caret = uint_field(*o, "caret", ~std::uint64_t{0});
      if (auto* e = std::get_if<FrameError>(&caret)) return *e;
      AwarenessState s;
      s.caret = std::get<std::uint64_t>(caret);
      s.anchor = s.caret;  // no selection unless `anchor` says
      if (o->contains("anchor")) {
        auto anchor = uint_field(*o, "anchor", ~std::uint64_t{0});
        if (auto* e = std::get_if<FrameError>(&anchor)) return *e;
        s.anchor = std::get<std::uint64_t>(anchor);
      }
      if (const json::value* name = o->if_contains("name")) {
        if (!name->is_string() || name->get_string().size() > kAwarenessNameBytesMax) {
          return FrameError{close_code::kBadField, "field 'name' must be a string of at most " +
                                                       std::to_string(kAwarenessNameBytesMax) + " bytes"};
        }
        s.name = std::string(name->get_string());
      }
      f.payload = encode_awareness(s);
      break;
    }
    default:
      break;
  }
  return f;
}

}  // namespace

ParsedFrame parse_json_frame(std::string_view text, const std::function<const Strategy&(std::uint32_t)>& strategy_of) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return FrameError{close_code::kBadJson, "not JSON: " + ec.message()};
  return json_frame(v, strategy_of);
}

std::optional<FrameError> parse_binary_message(std::span<const std::uint8_t> bytes, std::size_t frames_max,
                                               std::vector<FrameView>& out) {
  if (auto ok = decode_batch(bytes, out, frames_max); !ok) {
    if (frames_max <= 1) {
      // convlab/1: the single-frame codec's own words.
      ParsedFrame single = parse_binary_frame(bytes);
      if (auto* e = std::get_if<FrameError>(&single)) return *e;
    }
    return FrameError{close_code::kBadBinary, "bad frame: " + ok.error().message};
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!client_kind(out[i].kind)) {
      const FrameKind k = out[i].kind;
      out.clear();
      return FrameError{close_code::kUnknownType, std::string("a client may not send '") + type_name(k) + "' frames"};
    }
  }
  return std::nullopt;
}

std::optional<FrameError> parse_json_message(std::string_view text, std::size_t frames_max,
                                             const std::function<const Strategy&(std::uint32_t)>& strategy_of,
                                             Bytes& storage, std::vector<FrameView>& out) {
  out.clear();
  storage.clear();
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return FrameError{close_code::kBadJson, "not JSON: " + ec.message()};
  auto add = [&](const json::value& one) -> std::optional<FrameError> {
    ParsedFrame p = json_frame(one, strategy_of);
    if (auto* e = std::get_if<FrameError>(&p)) return *e;
    append_frame(storage, std::get<Frame>(p));
    return std::nullopt;
  };
  if (const json::array* a = v.if_array(); a != nullptr && frames_max > 1) {
    if (a->empty()) return FrameError{close_code::kBadField, "an empty batch (a JSON array with no frame)"};
    if (a->size() > frames_max) {
      return FrameError{close_code::kBadField, "a batch of " + std::to_string(a->size()) + " frames, above the limit " +
                                                   std::to_string(frames_max)};
    }
    for (const json::value& one : *a) {
      if (auto e = add(one)) return e;
    }
  } else if (auto e = add(v)) {
    return e;
  }
  if (auto ok = decode_batch(storage, out, frames_max); !ok) {
    return FrameError{close_code::kBadField, "frames do not encode: " + ok.error().message};
  }
  return std::nullopt;
}

std::string frame_to_json(const Frame& frame, const Strategy& strategy) {
  json::object o;
  o["type"] = type_name(frame.kind);
  o["doc"] = frame.doc;
  switch (frame.kind) {
    case FrameKind::kWelcome:
    case FrameKind::kDeliver:
    case FrameKind::kEdit: {
      auto msg = strategy.to_json(frame.payload);
      if (msg) {
        o["msg"] = std::move(*msg);
      } else {
        o["error"] = "message does not convert: " + msg.error().message;
      }
      break;
    }
    case FrameKind::kRefused:
      o["reason"] = frame.text;
      break;
    case FrameKind::kVersion:
      if (auto v = decode_version(frame.payload)) o["version"] = *v;
      break;
    case FrameKind::kPresence: {
      json::array peers;
      if (auto p = decode_presence(frame.payload)) {
        for (const PresenceEntry& e : *p) {
          json::object one;
          one["agent"] = e.agent;
          if (e.here) {
            one["caret"] = e.state.caret;
            one["anchor"] = e.state.anchor;
            one["name"] = e.state.name;
          } else {
            one["gone"] = true;
          }
          peers.push_back(std::move(one));
        }
      }
      o["peers"] = std::move(peers);
      break;
    }
    case FrameKind::kTitle: {
      auto t = decode_title(frame.payload);
      if (t) {
        o["version"] = t->version;
        o["title"] = t->title;
        o["answer"] = t->answer;
      }
      break;
    }
    default:
      break;
  }
  return json::serialize(o);
}

std::string_view refusal_label(std::string_view text) {
  struct Prefix {
    std::string_view prefix;
    std::string_view label;
  };
  static constexpr Prefix kPrefixes[] = {
      {"rate limited (connection)", "rate_limit_connection"},
      {"rate limited", "rate_limit_user"},
      {"edit refused", "strategy"},
      {"edit for a document", "not_open"},
      {"rename of a document", "not_open"},
      {"awareness for a document", "not_open"},
      {"unknown document", "unknown_document"},
      {"too many documents", "document_limit"},
      {"strategy mismatch", "strategy_mismatch"},
      {"not home", "not_home"},
      {"server shutting down", "shutting_down"},
      {"server busy", "busy"},
      {"bad ", "bad_payload"},
  };
  for (const Prefix& p : kPrefixes) {
    if (text.starts_with(p.prefix)) return p.label;
  }
  return "other";
}

bool refusal_ends_edit(std::string_view text) {
  return text.starts_with("edit ") || text.starts_with("rate limited");
}

}  // namespace convlab::net
