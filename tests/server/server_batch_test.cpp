// convlab/2 (docs/protocol.md, "Batches") on the real convlab-server: several frames per
// WebSocket message, next to convlab/1's one frame per message.
#include "tests/server/server_fixture.hpp"

#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace convlab::test {
namespace {

// The frames of the next message in binary form (`frames_max` 1: convlab/1, where a message must
// be exactly one frame); empty when the connection ended or nothing came.
std::vector<Frame> read_frames(Ws& ws, std::size_t frames_max) {
  auto m = ws.read();
  if (!m) return {};
  EXPECT_FALSE(m->text) << "a text message to a binary client";
  std::vector<FrameView> views;
  const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(m->data.data()), m->data.size());
  auto ok = decode_batch(bytes, views, frames_max);
  EXPECT_TRUE(ok.has_value()) << (ok ? std::string() : ok.error().message);
  if (frames_max == 1) {
    EXPECT_TRUE(decode_frame(bytes).has_value()) << "not exactly one frame";
  }
  std::vector<Frame> out;
  for (const FrameView& v : views) out.push_back(to_frame(v));
  return out;
}

// A client replica behind a Ws in binary form, counting messages and the frames they carried.
struct BatchReader {
  BatchReader(Ws& w, const Strategy& s, std::uint32_t agent, std::size_t frames_max)
      : ws(w), replica(s.make_client(agent)), max(frames_max) {}
  // Reads messages and applies their frames until `done()` (bounded).
  ::testing::AssertionResult until(const std::function<bool()>& done) {
    for (int i = 0; i < 2000 && !done(); ++i) {
      std::vector<Frame> frames = read_frames(ws, max);
      if (frames.empty()) return ::testing::AssertionFailure() << "no message; close " << ws.close_code();
      ++messages;
      most = std::max(most, frames.size());
      for (const Frame& f : frames) {
        ++frame_count;
        if (f.kind != FrameKind::kWelcome && f.kind != FrameKind::kDeliver) continue;
        if (auto r = replica->receive(f.payload); !r) return ::testing::AssertionFailure() << r.error().message;
      }
    }
    return done() ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << "never done";
  }
  Ws& ws;
  std::unique_ptr<ClientReplica> replica;
  std::size_t max;
  std::size_t messages = 0, frame_count = 0, most = 0;
};

// One writer sends 40 edits in one convlab/2 message; the server applies them in one go and
// fans them out: a convlab/2 watcher gets them in fewer messages than frames (binary frames back
// to back, or a JSON array), a convlab/1 watcher gets exactly one frame per message; all converge
// on the writer's text, which is what PostgreSQL holds.
TEST(ServerBatch, V2BatchesV1OneFramePerMessage) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  auto bob = login(port, "bob", "bob-pw");
  auto carol = login(port, "carol", "lab-pw");
  auto dave = login(port, "dave", "lab-pw");
  ASSERT_TRUE(alice && bob && carol && dave);
  constexpr std::uint32_t kDoc = 11;

  Ws writer_ws(port, alice->token, Ws::Auth::kBearer, "/ws", "convlab/2, convlab/1");
  // The watcher offers convlab/2's token spelling (what a browser can offer: `/` is not a token
  // character) and is answered in it.
  Ws v2_ws(port, bob->token, Ws::Auth::kBearer, "/ws", "convlab.v2");
  Ws v1_ws(port, carol->token);  // offers convlab/1 only
  Ws json_ws(port, dave->token, Ws::Auth::kBearer, "/ws", "convlab/1, convlab/2");
  EXPECT_EQ(writer_ws.protocol(), "convlab/2");
  EXPECT_EQ(v2_ws.protocol(), "convlab.v2");
  EXPECT_EQ(v1_ws.protocol(), "convlab/1");
  EXPECT_EQ(json_ws.protocol(), "convlab/2");
  EXPECT_EQ(Ws(port, dave->token, Ws::Auth::kBearer, "/ws", "x-other, convlab.v1").protocol(), "convlab.v1");

  BatchReader writer(writer_ws, s, alice->agent, kBatchFramesMax);
  BatchReader v2(v2_ws, s, bob->agent, kBatchFramesMax);
  BatchReader v1(v1_ws, s, carol->agent, 1);
  for (BatchReader* r : {&writer, &v2, &v1}) {
    r->ws.send_binary(frame_bytes(FrameKind::kHello, kDoc));
    ASSERT_TRUE(r->until([&] { return r->frame_count > 0; }));
  }
  auto json_replica = s.make_client(dave->agent);
  std::size_t json_messages = 0, json_arrays = 0, json_frames = 0;
  auto json_read = [&] {
    auto m = json_ws.read();
    if (!m) return false;
    EXPECT_TRUE(m->text);
    ++json_messages;
    json::value v = json::parse(m->data);
    std::vector<json::value> frames;
    if (v.is_array()) {
      ++json_arrays;
      EXPECT_GE(v.as_array().size(), 2u) << "an array of one frame";
      for (const json::value& f : v.as_array()) frames.push_back(f);
    } else {
      frames.push_back(v);
    }
    for (const json::value& f : frames) {
      ++json_frames;
      const std::string type(f.at("type").as_string());
      if (type != "welcome" && type != "deliver") continue;
      auto bytes = s.from_json(f.at("msg"));
      EXPECT_TRUE(bytes.has_value());
      if (bytes) {
        EXPECT_TRUE(json_replica->receive(*bytes).has_value());
      }
    }
    return true;
  };
  json_ws.send_text(R"({"type":"hello","doc":11})");
  ASSERT_TRUE(json_read());

  // 40 keystrokes, one message.
  std::vector<Frame> edits;
  for (int i = 0; i < 40; ++i) {
    const std::u32string c(1, static_cast<char32_t>(U'a' + i % 26));
    for (Bytes& m : writer.replica->local_edit(Splice{writer.replica->length(), 0, c}, 1000)) {
      edits.push_back(Frame{FrameKind::kEdit, kDoc, std::move(m), {}});
    }
  }
  ASSERT_EQ(edits.size(), 40u);
  writer_ws.send_binary(encode_batch(edits));
  const std::u32string want = writer.replica->text();
  ASSERT_TRUE(writer.until([&] { return writer.replica->synced(); }));
  ASSERT_TRUE(v2.until([&] { return v2.replica->text() == want; }));
  ASSERT_TRUE(v1.until([&] { return v1.replica->text() == want; }));
  for (int i = 0; i < 2000 && json_replica->text() != want; ++i) ASSERT_TRUE(json_read());
  EXPECT_EQ(json_replica->text(), want);

  // convlab/2: several frames in one message; convlab/1: one each (read_frames checked).
  EXPECT_GE(v2.most, 2u);
  EXPECT_LT(v2.messages, v2.frame_count);
  EXPECT_GE(json_arrays, 1u);
  EXPECT_LT(json_messages, json_frames);
  EXPECT_EQ(v1.most, 1u);
  EXPECT_EQ(v1.messages, v1.frame_count);
  EXPECT_GE(v1.frame_count, 41u);  // the welcome and every edit
  EXPECT_EQ(document_text(port, alice->token, kDoc), utf8_encode(want));

  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, "convlab_edits_acknowledged_total"), 40);
  EXPECT_LT(metric(m, R"(convlab_ws_messages_sent_total{protocol="convlab/2"})"),
            metric(m, R"(convlab_frames_sent_total{type="deliver"})"));
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

// A malformed convlab/2 message is refused as a whole with the single-frame codes (4000
// truncated or garbage binary, 4002 a bad JSON batch); the server stays up and keeps every
// edit it acknowledged, and none of the refused message's frames.
TEST(ServerBatch, MalformedBatchClosesNothingAckedLost) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  constexpr std::uint32_t kDoc = 12;

  auto open_writer = [&](Ws& ws, BatchReader& r) {
    ws.send_binary(frame_bytes(FrameKind::kHello, kDoc));
    return r.until([&] { return r.frame_count > 0; });
  };
  auto healthy = [&] { EXPECT_EQ(http_request(port, http::verb::get, "/healthz").status, 200); };

  Ws ws(port, alice->token, Ws::Auth::kBearer, "/ws", "convlab/2");
  BatchReader w(ws, s, alice->agent, kBatchFramesMax);
  ASSERT_TRUE(open_writer(ws, w));
  std::vector<Frame> edits;
  for (Bytes& m : w.replica->local_edit(Splice{0, 0, U"kept"}, 1000)) edits.push_back(Frame{FrameKind::kEdit, kDoc, m, {}});
  ws.send_binary(encode_batch(edits));
  ASSERT_TRUE(w.until([&] { return w.replica->synced(); }));
  const std::u32string acked = w.replica->text();

  // A good edit, then a frame cut short: the whole message is refused with 4000.
  Bytes bad;
  for (Bytes& m : w.replica->local_edit(Splice{0, 0, U"X"}, 1000)) append_frame(bad, FrameKind::kEdit, kDoc, m);
  bad.insert(bad.end(), {static_cast<std::uint8_t>(FrameKind::kEdit), kDoc, 40, 1, 2});
  ws.send_binary(bad);
  EXPECT_EQ(ws.read_until_close(), 4000) << ws.close_reason();
  healthy();

  auto closes_with = [&](auto send, int code, const char* what, const char* offer = "convlab/2") {
    Ws c(port, alice->token, Ws::Auth::kBearer, "/ws", offer);
    send(c);
    EXPECT_EQ(c.read_until_close(), code) << what << ": " << c.close_reason();
    healthy();
  };
  closes_with([&](Ws& c) { c.send_binary(encode_batch(std::vector<Frame>(kBatchFramesMax + 1, Frame{FrameKind::kHello, kDoc, {}, {}}))); },
              4000, "more frames than a batch may hold");
  closes_with([&](Ws& c) { c.send_binary({static_cast<std::uint8_t>(FrameKind::kHello), kDoc, 0, 0xff}); }, 4000,
              "garbage after a frame");
  closes_with([&](Ws& c) { c.send_binary(encode_batch(std::vector<Frame>{Frame{FrameKind::kHello, kDoc, {}, {}}, Frame{FrameKind::kWelcome, kDoc, {}, {}}})); },
              4003, "a server-only frame in a batch");
  closes_with([](Ws& c) { c.send_text("[]"); }, 4002, "an empty JSON batch");
  closes_with([](Ws& c) { c.send_text(R"([{"type":"hello","doc":12},{"type":"hello"}])"); }, 4002, "a JSON batch with a bad frame");
  // convlab/1 keeps one frame per message: two are trailing bytes, an array is not a frame.
  closes_with([&](Ws& c) { c.send_binary(encode_batch(std::vector<Frame>(2, Frame{FrameKind::kHello, kDoc, {}, {}}))); },
              4000, "two frames under convlab/1", "convlab/1");
  closes_with([](Ws& c) { c.send_text(R"([{"type":"hello","doc":12}])"); }, 4002, "a JSON array under convlab/1",
              "convlab/1");

  // What was acknowledged is there; nothing of the refused message is.
  EXPECT_EQ(document_text(port, alice->token, kDoc), utf8_encode(acked));
  Ws again(port, alice->token, Ws::Auth::kBearer, "/ws", "convlab/2");
  BatchReader r(again, s, alice->agent, kBatchFramesMax);
  ASSERT_TRUE(open_writer(again, r));
  EXPECT_EQ(r.replica->text(), acked);
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="4000"})"), 4);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

}  // namespace
}  // namespace convlab::test
