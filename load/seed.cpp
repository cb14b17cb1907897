// convlab-load's setup step (Options::initial_text): every document's first content typed by a
// setup user through the first server and acknowledged before t = 0, so the clients' welcomes
// carry it, as the simulator's documents start from a scenario's initial_text. Blocking and
// sequential: nothing else runs yet.
#include "load/run.hpp"
#include "server/core/utf8.hpp"

namespace convlab::load::detail {

namespace {

// POST /login as `user`: the token and the agent id, or what went wrong.
Result<std::pair<std::string, AgentId>> login_sync(net::io_context& io, const Target& t, const std::string& user,
                                                   const std::string& password) {
  tcp::socket sock(io);
  beast::error_code ec;
  sock.connect(t.endpoint, ec);
  if (ec) return make_error("connect " + t.url + ": " + ec.message());
  http::request<http::string_body> req(http::verb::post, "/login", 11);
  req.set(http::field::host, t.host + ":" + t.port);
  req.set(http::field::content_type, "application/json");
  req.body() = json::serialize(json::object{{"user", user}, {"password", password}});
  req.prepare_payload();
  http::write(sock, req, ec);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  if (!ec) http::read(sock, buf, res, ec);
  if (ec) return make_error("POST /login: " + ec.message());
  if (res.result() != http::status::ok) return make_error("POST /login: HTTP " + std::to_string(res.result_int()) + " " + res.body());
  boost::system::error_code jec;
  json::value v = json::parse(res.body(), jec);
  const json::object* o = jec ? nullptr : v.if_object();
  const json::value* tok = o ? o->if_contains("token") : nullptr;
  const json::value* agt = o ? o->if_contains("agent") : nullptr;
  if (!tok || !tok->is_string() || !agt || !agt->is_int64() || agt->as_int64() < 0 || agt->as_int64() > 0xfffffffe) {
    return make_error("POST /login: body lacks \"token\" or \"agent\": " + res.body());
  }
  return std::make_pair(std::string(tok->as_string()), static_cast<AgentId>(agt->as_int64()));
}

}  // namespace

Result<std::int64_t> Run::seed_documents() {
  // Stamped at clock 0, as the simulator stamps its initial text (sim/database.cpp): under lww
  // any client's write is newer.
  constexpr std::int64_t kClockMs = 0;
  const auto text = utf8_decode(opt_.initial_text);
  if (!text) return make_error("--initial-text: not valid UTF-8");
  net::io_context io;
  const Target& t = targets_.front();
  for (std::uint32_t doc = 0; doc < opt_.docs; ++doc) {
    const std::string where = "initial text of document " + std::to_string(doc) + " through " + t.url + ": ";
    auto who = login_sync(io, t, opt_.user_prefix + "setup", opt_.password);
    if (!who) return make_error(where + who.error().message);
    websocket::stream<tcp::socket> ws(io);
    beast::error_code ec;
    ws.next_layer().connect(t.endpoint, ec);
    if (ec) return make_error(where + "connect: " + ec.message());
    const std::string bearer = "Bearer " + who->first;
    ws.set_option(websocket::stream_base::decorator([bearer](websocket::request_type& r) {
      r.set(http::field::authorization, bearer);
      r.set(http::field::sec_websocket_protocol, "convlab.v1");  // one frame per message
    }));
    ws.binary(true);
    ws.handshake(t.host + ":" + t.port, "/ws", ec);
    if (ec) return make_error(where + "handshake: " + ec.message());
    auto replica = strategy_.make_client(who->second);
    auto send = [&](FrameKind kind, std::span<const std::uint8_t> payload) {
      Bytes msg;
      append_frame(msg, kind, doc, payload);
      ws.write(net::buffer(msg), ec);
      return !ec;
    };
    if (!send(FrameKind::kHello, {})) return make_error(where + "hello: " + ec.message());
    bool typed = false;
    std::vector<FrameView> frames;
    // Until the welcome came, the text went out and the server acknowledged all of it.
    while (!typed || !replica->synced()) {
      beast::flat_buffer buf;
      ws.read(buf, ec);
      if (ec) return make_error(where + "read: " + ec.message());
      const auto data = buf.cdata();
      auto ok = decode_batch(std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(data.data()), data.size()),
                             frames, 1);
      if (!ok) return make_error(where + "a frame that does not decode: " + ok.error().message);
      for (const FrameView& f : frames) {
        if (f.kind == FrameKind::kRefused) {
          return make_error(where + "refused: " + std::string(f.payload.begin(), f.payload.end()));
        }
        if (f.kind != FrameKind::kWelcome && f.kind != FrameKind::kDeliver) continue;
        auto back = replica->receive(f.payload);
        if (!back) return make_error(where + "the replica refused a message: " + back.error().message);
        for (const Bytes& m : *back) {
          if (!send(FrameKind::kEdit, m)) return make_error(where + "write: " + ec.message());
        }
        if (f.kind == FrameKind::kWelcome && !typed) {
          if (replica->length() != 0) {
            return make_error(where + "the document already holds " + std::to_string(replica->length()) +
                              " characters (the servers' database is not fresh)");
          }
          for (const Bytes& m : replica->local_edit(Splice{0, 0, *text}, kClockMs)) {
            if (!send(FrameKind::kEdit, m)) return make_error(where + "write: " + ec.message());
          }
          typed = true;
        }
      }
    }
    ws.close(websocket::close_code::normal, ec);
  }
  return kClockMs;
}

}  // namespace convlab::load::detail
