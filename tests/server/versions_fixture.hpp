#pragma once
// Versions on the wire (docs/protocol.md, "Versions"), for the tests that read them: a client
// replica whose hello asks for `version` frames and keeps each one with the kind of the frame it
// came before, and a document read carrying the session's version header.
#include "tests/server/server_fixture.hpp"

namespace convlab::test {

class VersionedEditor {
 public:
  // `ask` false: a plain hello (no version frames should come; any that does is still kept).
  VersionedEditor(unsigned short port, const Login& l, const Strategy& s, std::uint32_t doc, bool json_form = false,
                  bool ask = true)
      : ws(port, l.token), strategy_(s), doc_(doc), json_(json_form), ask_(ask), replica_(s.make_client(l.agent)) {}

  // Each `version` frame's number with the kind of the frame that followed it.
  std::vector<std::pair<FrameKind, std::uint64_t>> versions;

  ::testing::AssertionResult open() {
    if (json_) {
      ws.send_text(R"({"type":"hello","doc":)" + std::to_string(doc_) + (ask_ ? R"(,"versions":true})" : "}"));
    } else {
      ws.send_binary(frame_bytes(FrameKind::kHello, doc_, ask_ ? Bytes{kHelloVersions} : Bytes{}));
    }
    for (int i = 0; i < 100; ++i) {
      auto f = next();
      if (!f) return ::testing::AssertionFailure() << "no welcome; closed with " << ws.close_code();
      if (f->kind == FrameKind::kRefused) return ::testing::AssertionFailure() << "refused: " << f->text;
      if (f->kind == FrameKind::kWelcome) {
        auto back = replica_->receive(f->payload);
        if (!back) return ::testing::AssertionFailure() << "welcome does not apply: " << back.error().message;
        send_all(*back);
        return ::testing::AssertionSuccess();
      }
    }
    return ::testing::AssertionFailure() << "no welcome among 100 frames";
  }

  void insert(std::uint64_t pos, const std::u32string& text) { send_all(replica_->local_edit(Splice{pos, 0, text}, 1000)); }
  std::u32string text() const { return replica_->text(); }

  ::testing::AssertionResult sync() {
    for (int i = 0; i < 10000 && !replica_->synced(); ++i) {
      auto f = next();
      if (!f) return ::testing::AssertionFailure() << "connection ended before the acknowledgement";
      if (f->kind != FrameKind::kDeliver) continue;
      auto back = replica_->receive(f->payload);
      if (!back) return ::testing::AssertionFailure() << "deliver does not apply: " << back.error().message;
      send_all(*back);
    }
    return replica_->synced() ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << "never synced";
  }

  Ws ws;

 private:
  // The next frame; a `version` frame is kept with the frame after it, which is returned.
  std::optional<Frame> next() {
    auto f = next_raw();
    if (f && f->kind == FrameKind::kVersion) {
      auto v = decode_version(f->payload);
      EXPECT_TRUE(v.has_value()) << "a version frame that does not decode";
      f = next_raw();
      EXPECT_TRUE(!f || f->kind != FrameKind::kVersion) << "two version frames in a row";
      if (f && v) versions.emplace_back(f->kind, *v);
    }
    return f;
  }

  std::optional<Frame> next_raw() {
    auto m = ws.read();
    if (!m) return std::nullopt;
    EXPECT_EQ(m->text, json_) << "answer in the other form than the client's";
    if (!m->text) {
      auto f = decode_frame(std::span(reinterpret_cast<const std::uint8_t*>(m->data.data()), m->data.size()));
      EXPECT_TRUE(f.has_value()) << "server sent an undecodable frame";
      return f ? std::optional<Frame>(std::move(*f)) : std::nullopt;
    }
    json::value v = json::parse(m->data);
    Frame f;
    f.doc = static_cast<std::uint32_t>(v.at("doc").to_number<std::uint64_t>());
    const std::string type(v.at("type").as_string());
    if (type == "welcome" || type == "deliver") {
      f.kind = type == "welcome" ? FrameKind::kWelcome : FrameKind::kDeliver;
      auto b = strategy_.from_json(v.at("msg"));
      EXPECT_TRUE(b.has_value());
      if (b) f.payload = std::move(*b);
    } else if (type == "version") {
      f.kind = FrameKind::kVersion;
      f.payload = encode_version(v.at("version").to_number<std::uint64_t>());
    } else if (type == "refused") {
      f.kind = FrameKind::kRefused;
      f.text = std::string(v.at("reason").as_string());
    } else {
      f.kind = FrameKind::kTitle;
    }
    return f;
  }

  void send_all(const std::vector<Bytes>& msgs) {
    for (const Bytes& m : msgs) {
      if (json_) {
        auto j = strategy_.to_json(m);
        ASSERT_TRUE(j.has_value());
        json::object o;
        o["type"] = "edit";
        o["doc"] = doc_;
        o["msg"] = *j;
        ws.send_text(json::serialize(o));
      } else {
        ws.send_binary(frame_bytes(FrameKind::kEdit, doc_, m));
      }
    }
  }

  const Strategy& strategy_;
  std::uint32_t doc_;
  bool json_;
  bool ask_;
  std::unique_ptr<ClientReplica> replica_;
};

// GET /api/documents/{doc} with X-Convlab-Session-Version: `session_version` (status and body),
// through the test client (tests/server/client.cpp compiles Beast, not the tests).
inline HttpAnswer get_with_session_version(unsigned short port, const std::string& token, std::uint32_t doc,
                                           const std::string& session_version) {
  return http_request(port, http::verb::get, "/api/documents/" + std::to_string(doc), {}, token, {}, {},
                      {{"X-Convlab-Session-Version", session_version}});
}

}  // namespace convlab::test
