#include "server/strategies/paragraphs/model.hpp"

#include "server/core/assert.hpp"

#include <tuple>

namespace convlab::paragraphs {

bool beats(Ordering order, const Stamp& a, const Stamp& b) {
  if (order == Ordering::kClientClock) {
    // An unwritten register loses to any write, whatever its (possibly skewed) clock.
    if (b.counter == 0) return a.counter != 0;
    if (a.counter == 0) return false;
    return std::tie(a.clock_ms, a.agent, a.counter) > std::tie(b.clock_ms, b.agent, b.counter);
  }
  return a.seq > b.seq;
}

namespace {

// The visible paragraphs of a register row, as indexes into it.
std::vector<std::uint32_t> visible_indexes(const std::vector<Register>& regs) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < regs.size(); ++i) {
    if (regs[i].value.exists) out.push_back(static_cast<std::uint32_t>(i));
  }
  return out;
}

}  // namespace

std::vector<ParagraphEdit> plan_splice(const std::vector<Register>& regs, const Splice& e,
                                       AgentId agent, std::uint32_t& next_char) {
  if (e.del == 0 && e.ins.empty()) return {};

  // The old visible paragraphs. A document with no paragraph behaves as one empty paragraph at
  // index 0 that does not exist yet, so the first write there is always sent.
  std::vector<std::uint32_t> vis = visible_indexes(regs);
  const Paragraph empty_para{true, {}, {}, kSyntheticBreak};
  const bool blank = vis.empty();
  if (blank) vis.push_back(0);
  auto old_at = [&](std::size_t k) -> const Paragraph& {
    return blank ? empty_para : regs[vis[k]].value;
  };
  const std::size_t n = vis.size();

  // Paragraph ka holds e.pos, kb holds e.pos + e.del; offsets are their starts in the text.
  const std::uint64_t end = e.pos + e.del;
  std::size_t ka = n, kb = n;
  std::uint64_t a_off = 0, b_off = 0, off = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint64_t len = old_at(k).text.size();
    if (ka == n && e.pos <= off + len) {
      ka = k;
      a_off = off;
    }
    if (ka != n && end <= off + len) {
      kb = k;
      b_off = off;
      break;
    }
    off += len + 1;
  }
  CONVLAB_ASSERT(ka < n && kb < n && ka <= kb);  // REQUIRES e.pos + e.del <= length

  // The replaced stretch as one run that ends with kb's terminating '\n', cut at every '\n'.
  const Paragraph& pa = old_at(ka);
  const Paragraph& pb = old_at(kb);
  std::vector<Paragraph> mid(1, Paragraph{true, {}, {}, {}});
  auto put = [&](char32_t c, CharId id) {
    if (c == U'\n') {
      mid.back().term = id;
      mid.push_back(Paragraph{true, {}, {}, {}});
    } else {
      mid.back().text.push_back(c);
      mid.back().ids.push_back(id);
    }
  };
  const std::size_t cut_a = static_cast<std::size_t>(e.pos - a_off);
  const std::size_t cut_b = static_cast<std::size_t>(end - b_off);
  CONVLAB_ASSERT(cut_a <= pa.text.size() && cut_b <= pb.text.size());
  for (std::size_t i = 0; i < cut_a; ++i) put(pa.text[i], pa.ids[i]);
  for (char32_t c : e.ins) put(c, CharId{agent, next_char++});
  for (std::size_t i = cut_b; i < pb.text.size(); ++i) put(pb.text[i], pb.ids[i]);
  put(U'\n', pb.term);
  mid.pop_back();  // the empty piece after the final '\n'
  CONVLAB_ASSERT(!mid.empty());

  // New visible paragraph k is old k below ka, mid[k - ka] in the stretch, old k - delta after.
  const std::size_t replaced = kb - ka + 1;
  const std::size_t m = n - replaced + mid.size();
  const std::int64_t delta = static_cast<std::int64_t>(mid.size()) - static_cast<std::int64_t>(replaced);
  const std::uint32_t next_free = vis.back() + 1;
  auto target = [&](std::size_t k) -> std::uint32_t {
    return k < n ? vis[k] : next_free + static_cast<std::uint32_t>(k - n);
  };

  std::vector<ParagraphEdit> out;
  // Without a shift, paragraphs after the stretch are untouched; with one, all of them move.
  const std::size_t last = delta == 0 ? ka + mid.size() : m;
  for (std::size_t k = ka; k < last; ++k) {
    const std::size_t mk = k - ka;
    const Paragraph& now = mk < mid.size() ? mid[mk]
                                           : old_at(static_cast<std::size_t>(static_cast<std::int64_t>(k) - delta));
    if (k < n && !blank && now == old_at(k)) continue;
    out.push_back(ParagraphEdit{target(k), now});
  }
  for (std::size_t k = m; k < n; ++k) out.push_back(ParagraphEdit{vis[k], Paragraph{}});
  return out;
}

std::u32string visible_text(const std::vector<Register>& regs) {
  std::u32string out;
  out.reserve(visible_length(regs));  // one allocation, no regrowth copies
  bool first = true;
  for (const Register& r : regs) {
    if (!r.value.exists) continue;
    if (!first) out.push_back(U'\n');
    first = false;
    out += r.value.text;
  }
  return out;
}

std::size_t visible_length(const std::vector<Register>& regs) {
  std::size_t len = 0, count = 0;
  for (const Register& r : regs) {
    if (!r.value.exists) continue;
    len += r.value.text.size();
    ++count;
  }
  return count == 0 ? 0 : len + count - 1;
}

std::vector<CharId> visible_ids(const std::vector<Register>& regs) {
  std::vector<CharId> out;
  // Sized once: the change log's replica reads every id after each record, so regrowth
  // copies were a tenth of the seq hour.
  out.reserve(visible_length(regs));
  const Paragraph* prev = nullptr;
  for (const Register& r : regs) {
    if (!r.value.exists) continue;
    if (prev != nullptr) out.push_back(prev->term);
    out.insert(out.end(), r.value.ids.begin(), r.value.ids.end());
    prev = &r.value;
  }
  return out;
}

}  // namespace convlab::paragraphs
