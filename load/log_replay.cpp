// convlab-log-replay: the change log as PostgreSQL holds it, decoded and replayed, for an audit
// that does not take convlab's checker's word (scripts/soak.sh, scripts/soak_audit.py).
//
//   psql URL -AtF $'\t' -c "SELECT doc, seq, node, author, client_ms, server_ms,
//        encode(payload, 'hex') FROM changes ORDER BY doc, seq" | convlab-log-replay --strategy S
//
// Reads those rows (tab-separated, one a line, each document's in log order) and writes JSON
// Lines: for each row {"doc","seq","node","author","client_ms","server_ms","record"} with the
// record in the strategy's JSON form, then for each document {"doc","final","ids","records"}:
// the text (and its character ids, as [agent, seq, count] runs) a fresh server replica holds
// after applying every record from seq 1 on, as a server loading the document would.
// Exit 0; 1 when a row is malformed, a record does not decode or does not apply (the message
// names the row); 2 bad flags.
#include "server/core/utf8.hpp"
#include "server/strategies/registry.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace json = boost::json;

namespace {

std::optional<convlab::Bytes> from_hex(const std::string& s) {
  if (s.size() % 2 != 0) return std::nullopt;
  convlab::Bytes out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto [end, ec] = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, out[i], 16);
    if (ec != std::errc() || end != s.data() + 2 * i + 2) return std::nullopt;
  }
  return out;
}

std::optional<std::int64_t> integer(const std::string& s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() != 2 || args[0] != "--strategy") {
    std::cerr << "usage: convlab-log-replay --strategy lww|seq|ot|crdt < rows (see the file's header)\n";
    return 2;
  }
  const convlab::Strategy* strategy = convlab::find_strategy(args[1]);
  if (strategy == nullptr) {
    std::cerr << "convlab-log-replay: --strategy: unknown '" << args[1] << "' (known: " << convlab::strategy_names()
              << ")\n";
    return 2;
  }
  std::unique_ptr<convlab::ServerReplica> replica;
  std::int64_t doc = -1, records = 0;
  const auto finish_doc = [&] {
    if (!replica) return;
    json::array runs;  // the visible ids as [agent, seq, count] runs, as in a history
    for (const convlab::CharId& id : replica->char_ids()) {
      if (!runs.empty()) {
        json::array& last = runs.back().as_array();
        if (last[0].to_number<std::uint32_t>() == id.agent &&
            last[1].to_number<std::uint64_t>() + last[2].to_number<std::uint64_t>() == id.seq) {
          last[2] = last[2].to_number<std::uint64_t>() + 1;
          continue;
        }
      }
      runs.push_back(json::array{id.agent, id.seq, 1});
    }
    std::cout << json::serialize(json::object{{"doc", doc}, {"final", convlab::utf8_encode(replica->text())},
                                              {"ids", std::move(runs)}, {"records", records}})
              << '\n';
  };
  std::string line;
  for (std::int64_t n = 1; std::getline(std::cin, line); ++n) {
    const auto fail = [&](const std::string& why) {
      std::cerr << "convlab-log-replay: stdin:" << n << ": " << why << "\n";
      return 1;
    };
    std::vector<std::string> f;
    std::istringstream in(line);
    for (std::string cell; std::getline(in, cell, '\t');) f.push_back(cell);
    if (f.size() != 7) {
      return fail("want 7 tab-separated fields (doc seq node author client_ms server_ms hex), got " +
                  std::to_string(f.size()));
    }
    std::vector<std::int64_t> v;
    for (std::size_t i = 0; i < 6; ++i) {
      auto x = integer(f[i]);
      if (!x) return fail("field " + std::to_string(i + 1) + " is not an integer: '" + f[i] + "'");
      v.push_back(*x);
    }
    auto payload = from_hex(f[6]);
    if (!payload) return fail("field 7 is not hex");
    if (v[0] != doc) {
      finish_doc();
      doc = v[0];
      records = 0;
      replica = strategy->make_server();
    }
    if (v[1] != records + 1) {
      return fail("doc " + std::to_string(doc) + ": seq " + std::to_string(v[1]) + " after " + std::to_string(records) +
                  " (the log has a gap or is not in order)");
    }
    ++records;
    auto j = strategy->to_json(*payload);
    if (!j) return fail("doc " + std::to_string(doc) + " seq " + std::to_string(v[1]) + ": " + j.error().message);
    if (auto ok = replica->apply_record(*payload); !ok) {
      return fail("doc " + std::to_string(doc) + " seq " + std::to_string(v[1]) +
                  " does not apply: " + ok.error().message);
    }
    std::cout << json::serialize(json::object{{"doc", v[0]},
                                              {"seq", v[1]},
                                              {"node", v[2]},
                                              {"author", v[3]},
                                              {"client_ms", v[4]},
                                              {"server_ms", v[5]},
                                              {"record", std::move(*j)}})
              << '\n';
  }
  finish_doc();
  return 0;
}
