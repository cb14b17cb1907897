// The Redis bus (redis_bus.hpp): a publisher thread and a subscriber thread, each with its own
// blocking hiredis connection. The only file that includes hiredis (docs/architecture.md).
//
// Owns: RedisBus::Impl, the connections, parse_redis_url.
// May call: hiredis, the NOTIFY bus's note codec (server/pg/notification.hpp), the hooks.
#include "server/net/log_line.hpp"
#include "server/net/redis_bus.hpp"

#include "server/pg/notification.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

namespace convlab::net {

Result<RedisAddress> parse_redis_url(const std::string& url) {
  const auto bad = [&](const std::string& why) {
    return make_error("expected redis://HOST[:PORT] (" + why + "), got '" + url + "'");
  };
  std::string_view rest(url);
  if (!rest.starts_with("redis://")) return bad("the scheme redis://");
  rest.remove_prefix(8);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/@?# ") != std::string_view::npos) return bad("a host and port only: no user, password or database");
  RedisAddress a;
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) {
      return bad("port a number in [1, 65535]");
    }
    a.port = static_cast<int>(p);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("no host");
  a.host = std::string(rest);
  return a;
}

namespace {

using SteadyClock = std::chrono::steady_clock;
using Conn = std::unique_ptr<redisContext, void (*)(redisContext*)>;

constexpr timeval kTimeout{RedisBus::kRetryMs / 1000, (RedisBus::kRetryMs % 1000) * 1000};

// A blocking connection whose connect, reads and writes each give up after kTimeout; null (and
// `why`) when Redis cannot be reached.
Conn connect(const RedisAddress& a, std::string& why) {
  redisContext* c = redisConnectWithTimeout(a.host.c_str(), a.port, kTimeout);
  if (c == nullptr) {
    why = "cannot allocate a hiredis context";
    return Conn(nullptr, redisFree);
  }
  if (c->err != 0 || redisSetTimeout(c, kTimeout) != REDIS_OK) {
    why = c->errstr;
    redisFree(c);
    return Conn(nullptr, redisFree);
  }
  redisEnableKeepAlive(c);
  return Conn(c, redisFree);
}

// A publisher's connection between batches has nothing to read: readable (the end of the
// stream, an error) means Redis closed it.
bool idle_and_open(const redisContext* c) {
  pollfd p{c->fd, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
}

std::string where(const RedisAddress& a) { return a.host + ":" + std::to_string(a.port); }

}  // namespace

struct RedisBus::Impl {
  RedisAddress address;
  std::string channel;
  std::uint32_t node = 0;
  RedisBusHooks hooks;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;  // payloads to publish; guarded by mu; at most kQueueMax
  std::optional<bool> reported;   // the subscriber's last state told (subscriber thread)
  std::thread publisher;
  std::thread subscriber;

  void pause() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(kRetryMs), [&] { return stop.load(); });
  }

  void report(bool up, const std::string& why) {
    if (reported == up) return;
    reported = up;
    if (hooks.state) hooks.state(up, why);
  }

  // ---------------------------------------------------------------------------- publisher
  void publish_loop() {
    Conn conn(nullptr, redisFree);
    auto next_attempt = SteadyClock::now();
    std::optional<bool> told;  // the publisher's last state told
    const auto tell = [&](bool up, const std::string& why) {
      if (told == up) return;
      told = up;
      LogLine{} << "redis publisher " << (up ? "connected to " : "down: ") << where(address)
                << (why.empty() ? "" : ": ") << why << "\n";
      if (hooks.publisher) hooks.publisher(up);
    };
    while (true) {
      std::deque<std::string> batch;
      {
        // It wakes without work too: connected, every kRetryMs to see that the connection is
        // alive; disconnected, for its next attempt. So `publisher` tells a Redis that went away
        // or came back before the next commit needs it.
        std::unique_lock lock(mu);
        const auto ready = [&] { return stop.load() || !queue.empty(); };
        cv.wait_until(lock, conn ? SteadyClock::now() + std::chrono::milliseconds(kRetryMs) : next_attempt, ready);
        if (stop) return;
        batch.swap(queue);
      }
      if (conn && !idle_and_open(conn.get())) {
        tell(false, "the connection was closed");
        conn.reset();
        next_attempt = SteadyClock::now();
      }
      if (!conn && SteadyClock::now() >= next_attempt) {
        std::string why;
        conn = connect(address, why);
        if (conn) {
          tell(true, "");
        } else {
          next_attempt = SteadyClock::now() + std::chrono::milliseconds(kRetryMs);
          tell(false, why);
        }
      }
      std::size_t sent = 0;
      if (conn && !batch.empty()) {
        // Pipelined: every PUBLISH goes out before the first reply is read.
        for (const std::string& p : batch) {
          redisAppendCommand(conn.get(), "PUBLISH %b %b", channel.data(), channel.size(), p.data(), p.size());
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
          void* r = nullptr;
          if (redisGetReply(conn.get(), &r) != REDIS_OK) break;
          const bool answered = static_cast<redisReply*>(r)->type == REDIS_REPLY_INTEGER;
          freeReplyObject(r);
          if (!answered) break;
          ++sent;
        }
        if (sent < batch.size()) {
          // At most once: what was not answered is not sent again (the log has it).
          tell(false, conn->err != 0 ? conn->errstr : "unexpected reply to PUBLISH");
          conn.reset();
          next_attempt = SteadyClock::now() + std::chrono::milliseconds(kRetryMs);
        }
      }
      if (hooks.published) {
        for (std::size_t i = 0; i < batch.size(); ++i) hooks.published(i < sent);
      }
    }
  }

  // --------------------------------------------------------------------------- subscriber
  void subscribe_loop() {
    while (!stop) {
      std::string why;
      Conn conn = connect(address, why);
      if (conn) why = subscribed(conn.get());
      if (stop) return;
      report(false, "redis subscriber: " + where(address) + ": " + why);
      pause();
    }
  }

  // Subscribes on `c` and hands over what arrives until the connection fails (what failed) or
  // the bus stops. Silence for kRetryMs sends a PING; nothing at all for twice that ends it
  // (a Redis that hangs, or a peer gone without a word).
  std::string subscribed(redisContext* c) {
    void* r = nullptr;
    if (redisAppendCommand(c, "SUBSCRIBE %b", channel.data(), channel.size()) != REDIS_OK ||
        redisGetReply(c, &r) != REDIS_OK) {
      return c->errstr;
    }
    const auto* reply = static_cast<redisReply*>(r);
    const bool ok = reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
                    reply->element[0]->type == REDIS_REPLY_STRING && std::strcmp(reply->element[0]->str, "subscribe") == 0;
    freeReplyObject(r);
    if (!ok) return "SUBSCRIBE was not confirmed";
    report(true, "redis subscriber: subscribed to '" + channel + "' on " + where(address));
    auto heard = SteadyClock::now();
    bool pinged = false;
    while (!stop) {
      while (true) {
        void* m = nullptr;
        if (redisGetReplyFromReader(c, &m) != REDIS_OK) return c->errstr;
        if (m == nullptr) break;
        handle(static_cast<redisReply*>(m));
        freeReplyObject(m);
      }
      pollfd p{c->fd, POLLIN, 0};
      const int n = poll(&p, 1, 200);
      if (n < 0 && errno != EINTR) return std::string("poll: ") + std::strerror(errno);
      const auto now = SteadyClock::now();
      if (n > 0) {
        if (redisBufferRead(c) != REDIS_OK) return c->errstr;
        heard = now;
        pinged = false;
        continue;
      }
      if (now - heard >= std::chrono::milliseconds(2 * kRetryMs)) return "no answer to PING";
      if (!pinged && now - heard >= std::chrono::milliseconds(kRetryMs)) {
        int done = 0;
        if (redisAppendCommand(c, "PING") != REDIS_OK) return c->errstr;
        while (done == 0) {
          if (redisBufferWrite(c, &done) != REDIS_OK) return c->errstr;
        }
        pinged = true;
      }
    }
    return "stopping";
  }

  // A message on the channel: another server's records, in log order. A PING's answer and
  // anything undecodable (said once per message) are skipped.
  void handle(const redisReply* m) {
    if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 || m->element[0]->type != REDIS_REPLY_STRING ||
        std::strcmp(m->element[0]->str, "message") != 0 || m->element[2]->type != REDIS_REPLY_STRING) {
      return;
    }
    auto note = pg::detail::decode_note(std::string_view(m->element[2]->str, m->element[2]->len));
    if (!note) {
      LogLine{} << "redis subscriber: skipped a message: " << note.error().message << "\n";
      return;
    }
    auto* records = std::get_if<pg::detail::RecordsNote>(&*note);
    if (records == nullptr || records->reference || records->node == node) return;  // a server never hears itself
    for (LogRecord& rec : records->records) {
      if (hooks.record) hooks.record(records->doc, std::move(rec));
    }
  }
};

RedisBus::RedisBus(RedisAddress address, std::string channel, std::uint32_t node, RedisBusHooks hooks)
    : impl_(std::make_unique<Impl>()) {
  // hiredis writes with write(2): a connection Redis closed would raise SIGPIPE and kill the
  // process. The server's other sockets (Asio, libpq) never rely on it.
  ::signal(SIGPIPE, SIG_IGN);
  impl_->address = std::move(address);
  impl_->channel = std::move(channel);
  impl_->node = node;
  impl_->hooks = std::move(hooks);
  impl_->publisher = std::thread([this] { impl_->publish_loop(); });
  impl_->subscriber = std::thread([this] { impl_->subscribe_loop(); });
}

RedisBus::~RedisBus() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->publisher.join();
  impl_->subscriber.join();
}

void RedisBus::publish(std::uint32_t doc, std::uint64_t first, std::int64_t commit_us, std::span<const LogRecord> records) {
  if (records.empty()) return;
  std::string payload = pg::detail::encode_records(impl_->node, doc, first, commit_us, records, SIZE_MAX);
  bool queued = false;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->queue.size() < kQueueMax) {
      impl_->queue.push_back(std::move(payload));
      queued = true;
    }
  }
  if (queued) {
    impl_->cv.notify_all();  // the subscriber's pause waits on the same variable
  } else if (impl_->hooks.published) {
    impl_->hooks.published(false);
  }
}

}  // namespace convlab::net
