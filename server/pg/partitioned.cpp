// A store over several databases routed by server/core/partition.hpp (partitioned.hpp).
//
// May call: the partitions' Stores, store_sql.hpp (a connection for the layout), the hooks.
#include "server/pg/partitioned.hpp"

#include "server/core/assert.hpp"
#include "server/pg/store_sql.hpp"

#include <mutex>
#include <utility>

namespace convlab::pg {
namespace {

// Which partitions are up, to report the deployment's health as one (every partition up).
struct Health {
  std::mutex mu;
  std::vector<bool> up;
  std::function<void(bool up, std::string why)> report;

  void set(std::uint32_t partition, bool is_up, std::string why) {
    bool all = true;
    {
      std::lock_guard lock(mu);
      up[partition] = is_up;
      for (const bool u : up) all = all && u;
    }
    if (report) report(all, "partition " + std::to_string(partition) + (why.empty() ? "" : ": ") + why);
  }
};

// The rule as a map: by document it needs no table (route hashes any id), by organization one
// entry per document the organizations own.
PartitionMap map_of(const PartitionedConfig& config) {
  if (config.spec.by == PartitionSpec::By::kOrg) return PartitionMap(config.spec, config.docs);
  PartitionSpec by_doc = config.spec;
  by_doc.organizations = 0;
  return PartitionMap(by_doc, 0);
}

class PartitionedStore final : public Store {
 public:
  PartitionedStore(std::vector<std::unique_ptr<Store>> parts, const PartitionedConfig& config)
      : parts_(std::move(parts)), map_(map_of(config)) {}

  void submit(StoreRequest request) override {
    // kLease names no one document: partition 0's (home: lease is refused with partitions).
    Store& s = request.kind == StoreRequest::Kind::kLease ? *parts_[0] : of(request.doc);
    s.submit(std::move(request));
  }
  Result<void> revoke(std::string_view jti, std::uint32_t user, std::int64_t expires_s) override {
    return parts_[0]->revoke(jti, user, expires_s);
  }
  Result<bool> is_revoked(std::string_view jti) override { return parts_[0]->is_revoked(jti); }
  Result<void> put_refresh(std::string_view id, std::uint32_t user, std::int64_t expires_s) override {
    return parts_[0]->put_refresh(id, user, expires_s);
  }
  Result<RefreshUse> use_refresh(std::string_view id, std::string_view replacement, std::int64_t expires_s) override {
    return parts_[0]->use_refresh(id, replacement, expires_s);
  }
  Result<void> drop_refresh_of(std::uint32_t user) override { return parts_[0]->drop_refresh_of(user); }
  Result<std::uint32_t> user_id(std::string_view name) override { return parts_[0]->user_id(name); }
  Result<std::uint32_t> new_agent(std::uint32_t user) override { return parts_[0]->new_agent(user); }
  Result<std::string> claim_strategy(std::uint32_t doc, std::string_view name) override {
    return of(doc).claim_strategy(doc, name);
  }
  Result<std::vector<LogRecord>> read_log(std::uint32_t doc, std::uint64_t upto) override {
    return of(doc).read_log(doc, upto);
  }
  // The authors' names are partition 0's (agent_users); a document's records its partition's.
  Result<HistoryPage> read_history(std::uint32_t doc, std::uint64_t after, std::uint32_t limit) override {
    return of(doc).read_history(doc, after, limit);
  }
  bool healthy() const override {
    for (const auto& p : parts_) {
      if (!p->healthy()) return false;
    }
    return true;
  }

 private:
  Store& of(std::uint32_t doc) { return *parts_[map_.route(doc)]; }

  std::vector<std::unique_ptr<Store>> parts_;
  PartitionMap map_;
};

}  // namespace

Result<void> check_partition_layout(const std::string& url, std::uint32_t index, const std::string& layout) {
  try {
    detail::OwnedConnection c = detail::connect(url);
    pqxx::work w(*c.conn);
    w.exec(
        "CREATE TABLE IF NOT EXISTS partition_layout (one int PRIMARY KEY CHECK (one = 1), "
        "partition int NOT NULL, layout text NOT NULL)");
    w.exec_params("INSERT INTO partition_layout VALUES (1, $1, $2) ON CONFLICT DO NOTHING", index, layout);
    const pqxx::row r = w.exec1("SELECT partition, layout FROM partition_layout");
    w.commit();
    const auto held_index = r[0].as<std::uint32_t>();
    const auto held = r[1].as<std::string>();
    if (held_index != index || held != layout) {
      return make_error("holds partition " + std::to_string(held_index) + " of \"" + held +
                        "\", not partition " + std::to_string(index) + " of \"" + layout +
                        "\": every server of a deployment must list the same databases in the same order "
                        "with the same partitioning");
    }
    return {};
  } catch (const pqxx::unique_violation&) {
    // Two servers created the row at once and this one lost: read what the other wrote.
    return check_partition_layout(url, index, layout);
  } catch (const std::exception& e) {
    return make_error(std::string("partition layout: ") + e.what());
  }
}

Result<std::unique_ptr<Store>> open_partitioned(const PartitionedConfig& config, StoreHooks hooks,
                                                PartitionHooks partition_hooks) {
  const auto n = static_cast<std::uint32_t>(config.partitions.size());
  CONVLAB_ASSERT(n >= 2 && config.spec.partitions == n);
  const std::string layout = describe(config.spec, config.docs);
  auto health = std::make_shared<Health>();
  health->up.assign(n, true);
  health->report = hooks.health;
  std::vector<std::unique_ptr<Store>> parts;
  for (std::uint32_t i = 0; i < n; ++i) {
    const StoreConfig& sc = config.partitions[i];
    const std::string where = "partition " + std::to_string(i) + " (" + detail::redacted(sc.url) + "): ";
    StoreHooks h = hooks;
    if (i != 0) h.revoked = nullptr;  // revocations live in partition 0 only
    h.health = [health, i](bool up, std::string why) { health->set(i, up, std::move(why)); };
    h.committed = [outer = hooks.committed, each = partition_hooks.committed, i](std::size_t appends, double s) {
      if (outer) outer(appends, s);
      if (each) each(i, appends, s);
    };
    h.appended = [outer = hooks.appended, each = partition_hooks.appended, i](const std::vector<double>& s) {
      if (outer) outer(s);
      if (each) each(i, s);
    };
    if (!hooks.appended && !partition_hooks.appended) h.appended = nullptr;
    auto store = Store::open(sc, std::move(h));
    if (!store) return make_error(where + store.error().message);
    if (auto ok = check_partition_layout(sc.url, i, layout); !ok) return make_error(where + ok.error().message);
    parts.push_back(std::move(*store));
  }
  return std::unique_ptr<Store>(new PartitionedStore(std::move(parts), config));
}

}  // namespace convlab::pg
