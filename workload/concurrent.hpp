#pragma once
// Merging concurrent histories with the CRDT strategy: the concurrent editing traces
// (friendsforever) and the conformance histories. Each transaction is made on a replica whose
// state is exactly the merge of the transaction's parents; the result is the merge of all.
#include "workload/trace.hpp"

#include <string>

namespace convlab {

Result<std::u32string> merge_concurrent_trace(const ConcurrentTrace& t);
Result<std::u32string> merge_conformance(const ConformanceHistory& h);

}  // namespace convlab
