// `lww`: the naive design. Each paragraph write is stamped with the author's client clock;
// the highest (clock_ms, agent) wins everywhere, so a client whose clock runs ahead overwrites
// later edits, and of two concurrent edits to one paragraph one vanishes without a word.
#include "server/strategies/lww/lww.hpp"

#include "server/strategies/paragraphs/replica.hpp"

namespace convlab {

const Strategy& lww_strategy() {
  static const Strategy s{
      "lww",
      "last-writer-wins per paragraph on client timestamps (the naive design)",
      [](AgentId agent) { return paragraphs::make_client(paragraphs::Ordering::kClientClock, agent); },
      [] { return paragraphs::make_server(paragraphs::Ordering::kClientClock); },
      &paragraphs::message_to_json,
      &paragraphs::message_from_json,
      // Every server may accept writes: the highest stamp wins wherever records meet.
      /*multi_master=*/true,
      /*adopts_loaded_state=*/true,
      /*orders_by_client_clock=*/true,
      /*overwrites=*/true,
  };
  return s;
}

}  // namespace convlab
