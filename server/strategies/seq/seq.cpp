// `seq`: the clock-skew fix. The server stamps each paragraph write with its own sequence
// number and the latest accepted write wins; client clocks are kept for audit only. Concurrent
// edits to one paragraph still overwrite each other: this fixes skew, not concurrency.
#include "server/strategies/seq/seq.hpp"

#include "server/strategies/paragraphs/replica.hpp"

namespace convlab {

const Strategy& seq_strategy() {
  static const Strategy s{
      "seq",
      "last-writer-wins per paragraph on a server-assigned sequence",
      [](AgentId agent) { return paragraphs::make_client(paragraphs::Ordering::kServerSequence, agent); },
      [] { return paragraphs::make_server(paragraphs::Ordering::kServerSequence); },
      &paragraphs::message_to_json,
      &paragraphs::message_from_json,
      /*multi_master=*/false,
      /*adopts_loaded_state=*/true,
      /*orders_by_client_clock=*/false,
      /*overwrites=*/true,
  };
  return s;
}

}  // namespace convlab
