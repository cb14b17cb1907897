// Fuzz targets of the WebSocket edge's frame codecs (server/net/frames.hpp, server/core/protocol.hpp):
// `frames` parses a client's message every way the server does; `frames_diff` checks that the
// binary and the JSON forms of a client frame say the same thing.
//
// Input: byte 0 chooses the form (bit 0: convlab/2 batches, bit 1: text) and the strategy whose
// JSON form an edit's `msg` is in (the bits above); the rest is the WebSocket message.
#include "fuzz/targets.hpp"
#include "server/core/awareness.hpp"
#include "server/core/protocol.hpp"
#include "server/net/frames.hpp"
#include "server/strategies/registry.hpp"

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace convlab::fuzz {

using net::FrameError;
using net::ParsedFrame;
using net::parse_binary_frame;
using net::parse_binary_message;
using net::parse_json_frame;
using net::parse_json_message;

namespace {

namespace json = boost::json;

struct Setup {
  const Strategy* strategy = nullptr;
  std::size_t frames_max = 1;
  bool text = false;
  Input message;
};

Setup setup(Input in) {
  Setup s;
  const std::uint8_t mode = in.empty() ? 0 : in[0];
  const auto all = strategies();
  s.strategy = all[(mode >> 2) % all.size()];
  s.frames_max = (mode & 1) != 0 ? kBatchFramesMax : 1;
  s.text = (mode & 2) != 0;
  s.message = in.empty() ? in : in.subspan(1);
  return s;
}

std::string_view as_text(Input in) { return {reinterpret_cast<const char*>(in.data()), in.size()}; }

bool client_kind(FrameKind k) {
  return k == FrameKind::kHello || k == FrameKind::kEdit || k == FrameKind::kSubscribe || k == FrameKind::kRename ||
         k == FrameKind::kAwareness;
}

// What the node does next with an accepted frame's payload (server/core/node.cpp): decodes it.
void decode_payload(const FrameView& f, const Strategy& strategy) {
  switch (f.kind) {
    case FrameKind::kSubscribe: (void)decode_subscribe_msg(f.payload); break;
    case FrameKind::kRename: (void)decode_rename(f.payload); break;
    case FrameKind::kAwareness: (void)decode_awareness(f.payload); break;
    case FrameKind::kEdit: (void)strategy.to_json(f.payload); break;
    default: break;
  }
}

void check_accepted(const std::vector<FrameView>& out, std::size_t frames_max, const Strategy& strategy) {
  FUZZ_CHECK(!out.empty() && out.size() <= frames_max, "an accepted message holds 1 to frames_max frames");
  for (const FrameView& f : out) {
    FUZZ_CHECK(client_kind(f.kind), "only frames a client may send are accepted");
    decode_payload(f, strategy);
  }
}

void check_refused(const FrameError& e, const std::vector<FrameView>& out) {
  FUZZ_CHECK(out.empty(), "a refused message yields no frame");
  FUZZ_CHECK(!e.why.empty(), "a refusal says why");
  FUZZ_CHECK(e.code >= 4000 && e.code < 4100, "a refusal closes with a 4xxx code");
}

}  // namespace

void frames(Input in) {
  const Setup s = setup(in);
  const auto strategy_of = [&](std::uint32_t) -> const Strategy& { return *s.strategy; };
  std::vector<FrameView> out;
  if (s.text) {
    Bytes storage;
    if (auto e = parse_json_message(as_text(s.message), s.frames_max, strategy_of, storage, out)) {
      check_refused(*e, out);
    } else {
      check_accepted(out, s.frames_max, *s.strategy);
    }
    const ParsedFrame single = parse_json_frame(as_text(s.message), strategy_of);
    if (s.frames_max == 1) {
      FUZZ_CHECK(std::holds_alternative<Frame>(single) == !out.empty(),
                 "convlab/1 text: the message parse accepts what the single-frame parse does");
    }
    return;
  }
  const auto e = parse_binary_message(s.message, s.frames_max, out);
  if (e) {
    check_refused(*e, out);
  } else {
    check_accepted(out, s.frames_max, *s.strategy);
  }
  const ParsedFrame single = parse_binary_frame(s.message);
  if (s.frames_max == 1) {
    FUZZ_CHECK(std::holds_alternative<Frame>(single) == !e.has_value(),
               "convlab/1 binary: the message parse accepts what the single-frame parse does");
    if (const auto* fe = std::get_if<FrameError>(&single); fe != nullptr && e) {
      FUZZ_CHECK(fe->code == e->code, "convlab/1 binary: both parses refuse with one close code");
    }
  }
}

namespace {

// The JSON form of a client frame (docs/protocol.md, "JSON frames"), as a browser writes it; nullopt
// when the payload has no JSON form (the node would refuse it after the frame layer).
std::optional<json::object> client_json(const FrameView& f, const Strategy& strategy) {
  json::object o;
  o["doc"] = f.doc;
  switch (f.kind) {
    case FrameKind::kHello:
      if (!f.payload.empty()) return std::nullopt;  // hello's payload is empty; JSON has no field for one
      o["type"] = "hello";
      break;
    case FrameKind::kEdit: {
      auto msg = strategy.to_json(f.payload);
      if (!msg) return std::nullopt;
      o["type"] = "edit";
      o["msg"] = std::move(*msg);
      break;
    }
    case FrameKind::kSubscribe: {
      auto sub = decode_subscribe_msg(f.payload);
      if (!sub) return std::nullopt;
      o["type"] = "subscribe";
      o["version"] = sub->version;
      if (sub->versions) o["versions"] = true;
      break;
    }
    case FrameKind::kRename: {
      auto r = decode_rename(f.payload);
      if (!r) return std::nullopt;
      o["type"] = "rename";
      o["base"] = r->base;
      o["title"] = r->title;
      break;
    }
    default:
      return std::nullopt;
  }
  return o;
}

// The meaning of a client frame, compared across the codecs: kind, document, and the payload as
// its decoder reads it (so two encodings of one value compare equal).
std::string meaning(const FrameView& f, const Strategy& strategy) {
  std::string m = std::to_string(static_cast<int>(f.kind)) + "/" + std::to_string(f.doc) + "/";
  switch (f.kind) {
    case FrameKind::kEdit: {
      auto msg = strategy.to_json(f.payload);
      return m + (msg ? json::serialize(*msg) : "?");
    }
    case FrameKind::kSubscribe: {
      auto v = decode_subscribe_msg(f.payload);
      return m + (v ? std::to_string(v->version) + (v->versions ? "/versions" : "") : "?");
    }
    case FrameKind::kRename: {
      auto r = decode_rename(f.payload);
      return m + (r ? std::to_string(r->base) + "/" + r->title : "?");
    }
    default:
      return m + std::to_string(f.payload.size());
  }
}

}  // namespace

void frames_diff(Input in) {
  const Setup s = setup(in);
  const auto strategy_of = [&](std::uint32_t) -> const Strategy& { return *s.strategy; };
  std::vector<FrameView> first;
  Bytes storage;
  if (s.text) {
    // JSON first: what the JSON parse accepted, in its binary form, is what the binary parse accepts.
    if (parse_json_message(as_text(s.message), s.frames_max, strategy_of, storage, first)) return;
    std::vector<FrameView> again;
    const auto e = parse_binary_message(storage, s.frames_max, again);
    FUZZ_CHECK(!e, "the binary form of an accepted JSON message is accepted");
    FUZZ_CHECK(again.size() == first.size(), "both forms hold the same number of frames");
    for (std::size_t i = 0; i < first.size(); ++i) {
      FUZZ_CHECK(meaning(again[i], *s.strategy) == meaning(first[i], *s.strategy), "both forms mean the same");
    }
    return;
  }
  // Binary first: every accepted frame whose payload has a JSON form, written as JSON, parses back
  // to the same meaning.
  if (parse_binary_message(s.message, s.frames_max, first)) return;
  json::array batch;
  for (const FrameView& f : first) {
    auto o = client_json(f, *s.strategy);
    if (!o) return;
    batch.push_back(std::move(*o));
  }
  const std::string text = s.frames_max == 1 ? json::serialize(batch.at(0)) : json::serialize(batch);
  std::vector<FrameView> second;
  const auto e = parse_json_message(text, s.frames_max, strategy_of, storage, second);
  if (e) std::fprintf(stderr, "JSON form %s refused: %s\n", text.c_str(), e->why.c_str());
  FUZZ_CHECK(!e, "the JSON form of an accepted binary message is accepted");
  FUZZ_CHECK(second.size() == first.size(), "both forms hold the same number of frames");
  for (std::size_t i = 0; i < first.size(); ++i) {
    FUZZ_CHECK(meaning(second[i], *s.strategy) == meaning(first[i], *s.strategy), "both forms mean the same");
  }
}

}  // namespace convlab::fuzz
