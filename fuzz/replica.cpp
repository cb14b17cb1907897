// Fuzz target of each strategy's server replica (server/core/strategy.hpp) against a hostile
// client: byte 0 chooses the strategy, the rest is a sequence of (varint agent 0..7, bytes
// message) that clients send to one server replica. Whatever the bytes:
//   - a refused message leaves the replica exactly as it was (text, version, snapshot);
//   - an accepted one's records, applied to a replica recovering from the log (apply_record),
//     and to another server's replica (apply_remote_record), give the same text;
//   - at the end the snapshot restores to the same document, and a new client shown the welcome
//     shows the same text: what other readers see is never corrupted.
#include "fuzz/targets.hpp"
#include "server/core/wire.hpp"
#include "server/strategies/registry.hpp"

#include <string>

namespace convlab::fuzz {

namespace {
constexpr int kMessagesMax = 64;
constexpr std::uint64_t kAgentMax = 7;
}  // namespace

void replica(Input in) {
  if (in.empty()) return;
  const auto all = strategies();
  const Strategy& s = *all[in[0] % all.size()];
  auto server = s.make_server();
  auto recovering = s.make_server();
  auto other = s.make_server();
  Reader r(in.subspan(1));
  std::int64_t clock_ms = 1'000;
  for (int i = 0; i < kMessagesMax && !r.at_end(); ++i) {
    const auto from = static_cast<AgentId>(r.varint_max(kAgentMax, "agent"));
    const std::span<const std::uint8_t> msg = r.bytes_view();
    if (!r.ok()) break;
    const std::u32string text_before = server->text();
    const std::uint64_t version_before = server->version();
    const Bytes snapshot_before = server->snapshot();
    clock_ms += 7;
    auto out = server->receive(from, msg, clock_ms);
    if (!out) {
      FUZZ_CHECK(!out.error().message.empty(), "a refused message says why");
      FUZZ_CHECK(server->version() == version_before, "a refused message leaves the version");
      FUZZ_CHECK(server->text() == text_before, "a refused message leaves the text");
      FUZZ_CHECK(server->snapshot() == snapshot_before, "a refused message leaves the whole replica");
      continue;
    }
    FUZZ_CHECK(server->version() >= version_before, "the version never goes back");
    for (const Bytes& record : out->records) {
      auto again = recovering->apply_record(record);
      if (!again) std::fprintf(stderr, "apply_record: %s\n", again.error().message.c_str());
      FUZZ_CHECK(again.has_value(), "a record the replica wrote re-applies in recovery");
      auto remote = other->apply_remote_record(record);
      if (!remote) std::fprintf(stderr, "apply_remote_record: %s\n", remote.error().message.c_str());
      FUZZ_CHECK(remote.has_value(), "a record the replica wrote applies on another server");
    }
    FUZZ_CHECK(recovering->text() == server->text(), "recovery from the records gives the same text");
    FUZZ_CHECK(other->text() == server->text(), "another server applying the records shows the same text");
  }
  auto restored = s.make_server();
  FUZZ_CHECK(restored->restore(server->snapshot()).has_value(), "the snapshot restores");
  FUZZ_CHECK(restored->text() == server->text() && restored->char_ids() == server->char_ids(),
             "the restored replica is the same document");
  auto reader = s.make_client(kAgentMax + 1);
  auto welcomed = reader->receive(server->welcome());
  if (!welcomed) std::fprintf(stderr, "welcome: %s\n", welcomed.error().message.c_str());
  FUZZ_CHECK(welcomed.has_value(), "a new client takes the welcome");
  FUZZ_CHECK(reader->text() == server->text(), "a new client shows the server's text");
}

}  // namespace convlab::fuzz
