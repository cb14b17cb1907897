#pragma once
// Which database partition holds a document: the routing rule shared by the simulator's
// partitioned database (sim/database.*) and anything that routes real documents to real
// clusters. Sans-IO and deterministic: no randomness, no clock, the same answer everywhere.
//
// Organizations own documents. Their sizes follow a distribution (`org_size`): uniform, or
// Zipf-like (organization k, counted from 0, weighs 1 / (k + 1)^exponent), so a few large
// organizations own most documents. Documents are numbered 0..docs-1 and an organization owns a
// contiguous run of them: organization 0 the first (and, under Zipf, the largest) run.
//
// partition_by:
//   - org: every document of an organization on one partition (organization % partitions): the
//     naive sharding key; one large organization puts its whole load on one partition;
//   - doc: a hash of the document id (splitmix64 % partitions): an organization's documents
//     spread over every partition.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace convlab {

struct PartitionSpec {
  enum class By { kOrg, kDoc };
  enum class OrgSize { kUniform, kZipf };
  std::uint32_t partitions = 1;
  By by = By::kOrg;
  // 0: no organizations were given: every document is its own organization.
  std::uint32_t organizations = 0;
  OrgSize org_size = OrgSize::kZipf;
  double org_exponent = 1.0;  // Zipf's exponent s (weight 1 / (k + 1)^s); unused when uniform
};

inline constexpr std::uint32_t kPartitionsMax = 1024;
inline constexpr double kOrgExponentMax = 10.0;

std::string_view name_of(PartitionSpec::By by);
std::string_view name_of(PartitionSpec::OrgSize size);

// How many documents each of the spec's organizations owns, out of `docs`: every organization at
// least one, the rest shared by weight with the largest remainders rounded up (ties to the lower
// organization). REQUIRES: 1 <= organizations <= docs.
std::vector<std::uint32_t> org_sizes(const PartitionSpec& spec, std::uint32_t docs);

// The partition of a document id under partition_by: doc (the hash of the id alone).
std::uint32_t doc_hash_partition(std::uint64_t doc, std::uint32_t partitions);

// The rule a spec and a document count make, in words, the same for equal rules and different
// for different ones: "4 partitions by org; 80 documents of 16 organizations, zipf 1.5". Servers
// of one deployment compare it to find that they route alike (server/pg/partitioned.hpp).
std::string describe(const PartitionSpec& spec, std::uint32_t docs);

// The partition and organization of each of `docs` documents under one spec.
class PartitionMap {
 public:
  PartitionMap() = default;
  // REQUIRES: spec.partitions >= 1; spec.organizations <= docs.
  PartitionMap(const PartitionSpec& spec, std::uint32_t docs);

  std::uint32_t partitions() const { return partitions_; }
  std::uint32_t organizations() const { return organizations_; }
  std::uint32_t org_of(std::uint32_t doc) const { return org_[doc]; }
  std::uint32_t partition_of(std::uint32_t doc) const { return partition_[doc]; }
  // The partition of any document id, for a router whose document ids are not bounded in
  // advance (convlab-server): partition_of for the map's documents; past them every document is
  // its own organization, so doc % partitions under org and the hash under doc.
  std::uint32_t route(std::uint32_t doc) const {
    if (doc < partition_.size()) return partition_[doc];
    return by_ == PartitionSpec::By::kOrg ? doc % partitions_ : doc_hash_partition(doc, partitions_);
  }

 private:
  PartitionSpec::By by_ = PartitionSpec::By::kOrg;
  std::uint32_t partitions_ = 1;
  std::uint32_t organizations_ = 0;
  std::vector<std::uint32_t> org_;
  std::vector<std::uint32_t> partition_;
};

}  // namespace convlab
