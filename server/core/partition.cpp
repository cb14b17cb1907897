// The partition of a document (server/core/partition.hpp).
#include "server/core/partition.hpp"

#include "server/core/rng.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace convlab {

std::string_view name_of(PartitionSpec::By by) { return by == PartitionSpec::By::kOrg ? "org" : "doc"; }

std::string_view name_of(PartitionSpec::OrgSize size) {
  return size == PartitionSpec::OrgSize::kZipf ? "zipf" : "uniform";
}

std::vector<std::uint32_t> org_sizes(const PartitionSpec& spec, std::uint32_t docs) {
  const std::uint32_t k = spec.organizations;
  std::vector<std::uint32_t> sizes(k, 1);
  if (k == 0 || docs <= k) return sizes;
  const std::uint32_t rest = docs - k;
  if (spec.org_size == PartitionSpec::OrgSize::kUniform) {
    for (std::uint32_t i = 0; i < k; ++i) sizes[i] += rest / k + (i < rest % k ? 1 : 0);
    return sizes;
  }
  std::vector<double> weight(k);
  for (std::uint32_t i = 0; i < k; ++i) weight[i] = 1.0 / std::pow(static_cast<double>(i + 1), spec.org_exponent);
  const double total = std::accumulate(weight.begin(), weight.end(), 0.0);
  std::vector<double> remainder(k);
  std::uint32_t given = 0;
  for (std::uint32_t i = 0; i < k; ++i) {
    const double share = static_cast<double>(rest) * weight[i] / total;
    const auto whole = static_cast<std::uint32_t>(std::floor(share));
    sizes[i] += whole;
    given += whole;
    remainder[i] = share - static_cast<double>(whole);
  }
  // Largest remainders first; a stable sort keeps ties in organization order.
  std::vector<std::uint32_t> order(k);
  std::iota(order.begin(), order.end(), 0U);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return remainder[a] > remainder[b]; });
  for (std::uint32_t i = 0; given < rest; ++i, ++given) ++sizes[order[i % k]];
  return sizes;
}

std::uint32_t doc_hash_partition(std::uint64_t doc, std::uint32_t partitions) {
  std::uint64_t state = doc;
  return static_cast<std::uint32_t>(splitmix64(state) % partitions);
}

std::string describe(const PartitionSpec& spec, std::uint32_t docs) {
  std::string out = std::to_string(spec.partitions) + " partitions by " + std::string(name_of(spec.by));
  if (spec.by == PartitionSpec::By::kDoc) return out;  // neither the documents nor organizations enter the rule
  out += "; " + std::to_string(docs) + " documents of ";
  if (spec.organizations == 0) return out + "one organization each";
  out += std::to_string(spec.organizations) + " organizations, " + std::string(name_of(spec.org_size));
  if (spec.org_size == PartitionSpec::OrgSize::kZipf) {
    char exponent[32];
    std::snprintf(exponent, sizeof exponent, " %.17g", spec.org_exponent);
    out += exponent;
  }
  return out;
}

PartitionMap::PartitionMap(const PartitionSpec& spec, std::uint32_t docs)
    : by_(spec.by), partitions_(std::max<std::uint32_t>(spec.partitions, 1)), org_(docs), partition_(docs) {
  if (spec.organizations == 0) {
    organizations_ = docs;
    std::iota(org_.begin(), org_.end(), 0U);
  } else {
    organizations_ = spec.organizations;
    std::uint32_t d = 0;
    const std::vector<std::uint32_t> sizes = org_sizes(spec, docs);
    for (std::uint32_t o = 0; o < sizes.size(); ++o) {
      for (std::uint32_t i = 0; i < sizes[o] && d < docs; ++i) org_[d++] = o;
    }
  }
  for (std::uint32_t d = 0; d < docs; ++d) {
    partition_[d] = spec.by == PartitionSpec::By::kOrg ? org_[d] % partitions_ : doc_hash_partition(d, partitions_);
  }
}

}  // namespace convlab
