#pragma once
// The scenario loader's parts (sim/scenario.cpp has the top level and the expectations):
// the `world` section and variant merging with the cross-key checks (sim/scenario_world.cpp),
// and the `faults` / `random_faults` sections, read through the table of fault kinds
// (sim/scenario_faults.cpp). All of it reads YAML through the kit shared with convlab-server's
// configuration (yamlkit/kit.hpp), the server policies through yamlkit/policies.hpp.
#include "sim/scenario.hpp"
#include "yamlkit/kit.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace convlab::sim::loader {

using namespace yamlkit;  // NOLINT(google-build-using-namespace): the loader's kit

// Limits on everything (TigerBeetle style): a typo of a few zeros must not ask the simulator
// for a billion clients or a century of virtual time.
constexpr std::int64_t kTimeMaxMs = 30LL * 24 * 3600 * 1000;  // 30 days
constexpr std::int64_t kClientsMax = 100000;
constexpr std::int64_t kServersMax = 1024;
constexpr std::int64_t kDocsMax = 100000;
constexpr std::int64_t kDriftPpmMax = 1000000;
constexpr std::int64_t kBurstLenMax = 10000;
constexpr std::int64_t kEditLenMax = 100000;
constexpr std::int64_t kRandomFaultsMax = 10000;
constexpr std::int64_t kSeedsMax = 100000;
constexpr std::int64_t kRowMax = 1000;
constexpr std::int64_t kScriptPosMax = 1000000000;
constexpr double kRateMultiplierMax = 1e6;
constexpr std::size_t kFileMaxBytes = 16 << 20;

// A value whose validity depends on other keys of the merged variant: checked per variant.
struct Ref {
  enum class Kind { kClient, kServer, kBeforeDuration } kind;
  std::int64_t value = 0;
  Here at;
  std::string text;  // as written
};

struct Origins {
  std::vector<Ref> faults;
  std::vector<Ref> overrides;
  std::vector<Ref> script;
  std::optional<Here> random_count;
  std::optional<Here> organizations;  // workload.organizations, checked against docs per variant
};

// Applies a `world` mapping, or a variant's overrides, on top of `cfg`: only the keys present
// change; nested mappings merge key by key; lists (faults, client_overrides, script) replace.
void apply_world(Ctx& ctx, const YAML::Node& n, const Here& at, WorldConfig& cfg, Origins& org);
// The checks that span keys, made on a fully merged variant. The error points at the value
// that is out of bounds (in `world` or in the variant, wherever it was written).
void check_variant(Ctx& ctx, const Variant& v, const Origins& org);

// One item of `faults:`; node names it gives go to `refs` (checked against the counts later).
void parse_fault(Ctx& ctx, const YAML::Node& n, const Here& at, FaultSpec& f, std::vector<Ref>& refs);
void apply_random_faults(Ctx& ctx, const YAML::Node& n, const Here& at, RandomFaults& rf, Origins& org);

}  // namespace convlab::sim::loader
