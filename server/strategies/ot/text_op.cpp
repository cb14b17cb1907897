#include "server/strategies/ot/text_op.hpp"

#include "server/core/assert.hpp"
#include "server/core/utf8.hpp"

#include <boost/json.hpp>

#include <limits>
#include <optional>
#include <utility>

namespace convlab::ot {

using Kind = Component::Kind;

Component Component::insert(std::u32string s, std::vector<CharId> id) {
  CONVLAB_ASSERT(s.size() == id.size());
  return {Kind::insert, 0, std::move(s), std::move(id)};
}

Component Component::insert(std::u32string s) {
  std::vector<CharId> id(s.size());
  return {Kind::insert, 0, std::move(s), std::move(id)};
}

namespace {

bool is_scalar_value(char32_t c) { return c <= 0x10ffff && (c < 0xd800 || c > 0xdfff); }

bool is_noop(const Component& c) {
  return c.kind == Kind::insert ? c.text.empty() : c.n == 0;
}

// The package's makeAppend: drops empty components and merges a component into the last one
// when both are of one kind. Every op this file builds goes through it.
void append(Op& op, Component c) {
  if (is_noop(c)) return;
  if (!op.empty() && op.back().kind == c.kind) {
    Component& last = op.back();
    if (c.kind == Kind::insert) {
      last.text += c.text;
      last.ids.insert(last.ids.end(), c.ids.begin(), c.ids.end());
    } else {
      last.n += c.n;
    }
    return;
  }
  op.push_back(std::move(c));
}

// The package's trim: append() leaves at most one trailing skip, and normal form has none.
Op trim(Op op) {
  if (!op.empty() && op.back().kind == Kind::skip) op.pop_back();
  return op;
}

// The package's makeTake: reads an op from the front in pieces. Past its end the op skips
// forever. `whole` names the kind that is never split (inserts while transforming, deletes
// while composing): a component of that kind comes out whole even when longer than asked.
class Taker {
 public:
  static constexpr std::uint64_t kAll = std::numeric_limits<std::uint64_t>::max();

  explicit Taker(const Op& op) : op_(op) {}

  // Up to `n` characters of the next component (the whole rest of it for kAll); nullopt at the
  // end when asked for kAll, a skip of n at the end otherwise. REQUIRES: n > 0.
  std::optional<Component> take(std::uint64_t n, Kind whole) {
    CONVLAB_ASSERT(n > 0);
    if (idx_ == op_.size()) {
      if (n == kAll) return std::nullopt;
      return Component::skip(n);
    }
    const Component& c = op_[idx_];
    const std::uint64_t left = c.length() - offset_;
    CONVLAB_ASSERT(left > 0);
    if (n == kAll || left <= n || c.kind == whole) {
      Component part = piece(c, offset_, left);
      ++idx_;
      offset_ = 0;
      return part;
    }
    Component part = piece(c, offset_, n);
    offset_ += n;
    return part;
  }

  bool next_is_insert() const { return idx_ < op_.size() && op_[idx_].kind == Kind::insert; }

 private:
  static Component piece(const Component& c, std::uint64_t from, std::uint64_t count) {
    if (c.kind != Kind::insert) return {c.kind, count, {}, {}};
    const auto b = static_cast<std::ptrdiff_t>(from);
    const auto e = static_cast<std::ptrdiff_t>(from + count);
    return {Kind::insert, 0, c.text.substr(from, count),
            std::vector<CharId>(c.ids.begin() + b, c.ids.begin() + e)};
  }

  const Op& op_;
  std::size_t idx_ = 0;
  std::uint64_t offset_ = 0;  // characters of op_[idx_] already taken
};

}  // namespace

Result<void> check(const Op& op) {
  const Component* last = nullptr;
  for (std::size_t i = 0; i < op.size(); ++i) {
    const Component& c = op[i];
    // The place, built only for an error: check runs on every op a server transforms (twice
    // per transform), and building it each time was 15 % of an ot server's instructions per
    // edit (issue 17 item 3).
    const auto at = [i] { return "component " + std::to_string(i) + ": "; };
    switch (c.kind) {
      case Kind::skip:
        if (c.n == 0) return make_error(at() + "skip components must be > 0");
        if (last != nullptr && last->kind == Kind::skip)
          return make_error(at() + "adjacent skip components should be combined");
        break;
      case Kind::del:
        if (c.n == 0) return make_error(at() + "deletes must not be empty");
        break;
      case Kind::insert:
        if (c.text.empty()) return make_error(at() + "inserts cannot be empty");
        if (c.ids.size() != c.text.size())
          return make_error(at() + "insert has " + std::to_string(c.ids.size()) + " ids for " +
                            std::to_string(c.text.size()) + " characters");
        for (char32_t ch : c.text) {
          if (!is_scalar_value(ch)) return make_error(at() + "insert holds a non-scalar code point");
        }
        break;
      default:
        return make_error(at() + "unknown component kind");
    }
    if (c.kind != Kind::insert && c.n > kComponentLengthMax)
      return make_error(at() + "length " + std::to_string(c.n) + " is above the limit");
    if (c.kind != Kind::insert && (!c.text.empty() || !c.ids.empty()))
      return make_error(at() + "skip or delete carries text");
    last = &c;
  }
  if (last != nullptr && last->kind == Kind::skip) return make_error("op has a trailing skip");
  return {};
}

Op normalize(const Op& op) {
  Op out;
  for (const Component& c : op) append(out, c);
  return trim(std::move(out));
}

std::uint64_t input_length(const Op& op) {
  std::uint64_t n = 0;
  for (const Component& c : op) {
    if (c.kind != Kind::insert) n += c.n;
  }
  return n;
}

std::int64_t length_delta(const Op& op) {
  std::int64_t d = 0;
  for (const Component& c : op) {
    if (c.kind == Kind::insert) d += static_cast<std::int64_t>(c.text.size());
    if (c.kind == Kind::del) d -= static_cast<std::int64_t>(c.n);
  }
  return d;
}

Result<Text> apply_op(const Text& doc, const Op& op) {
  CONVLAB_ASSERT(doc.text.size() == doc.ids.size());
  if (auto ok = check(op); !ok) return ok.error();
  if (input_length(op) > doc.text.size())
    return make_error("op reads " + std::to_string(input_length(op)) +
                      " characters of a document of " + std::to_string(doc.text.size()));
  Text out;
  out.text.reserve(static_cast<std::size_t>(static_cast<std::int64_t>(doc.text.size()) + length_delta(op)));
  out.ids.reserve(out.text.capacity());
  std::size_t pos = 0;
  for (const Component& c : op) {
    const auto b = static_cast<std::ptrdiff_t>(pos);
    switch (c.kind) {
      case Kind::skip: {
        const auto e = static_cast<std::ptrdiff_t>(pos + c.n);
        out.text.append(doc.text.begin() + b, doc.text.begin() + e);
        out.ids.insert(out.ids.end(), doc.ids.begin() + b, doc.ids.begin() + e);
        pos += c.n;
        break;
      }
      case Kind::insert:
        out.text += c.text;
        out.ids.insert(out.ids.end(), c.ids.begin(), c.ids.end());
        break;
      case Kind::del:
        pos += c.n;
        break;
    }
  }
  out.text.append(doc.text.begin() + static_cast<std::ptrdiff_t>(pos), doc.text.end());
  out.ids.insert(out.ids.end(), doc.ids.begin() + static_cast<std::ptrdiff_t>(pos), doc.ids.end());
  return out;
}

Op transform(const Op& op, const Op& other, Side side) {
  CONVLAB_ASSERT(check(op).has_value());
  CONVLAB_ASSERT(check(other).has_value());
  Op out;
  // Each component of `other` adds at most one to the result, and each of op's at most one
  // more: one allocation instead of regrowing.
  out.reserve(op.size() + other.size() + 1);
  Taker take(op);
  for (const Component& c2 : other) {
    switch (c2.kind) {
      case Kind::skip: {
        // Keep what op does over the characters other kept; op's inserts come whole.
        std::uint64_t length = c2.n;
        while (length > 0) {
          std::optional<Component> c1 = take.take(length, Kind::insert);
          CONVLAB_ASSERT(c1.has_value());
          if (c1->kind != Kind::insert) length -= c1->n;
          append(out, std::move(*c1));
        }
        break;
      }
      case Kind::insert:
        // A tie: the left side's insert at this place goes before other's insert.
        if (side == Side::left && take.next_is_insert()) {
          std::optional<Component> c1 = take.take(Taker::kAll, Kind::insert);
          CONVLAB_ASSERT(c1.has_value());
          append(out, std::move(*c1));
        }
        append(out, Component::skip(c2.text.size()));
        break;
      case Kind::del: {
        // Characters other deleted: op's inserts there survive, its skips and deletes of them
        // vanish (the text is gone already).
        std::uint64_t length = c2.n;
        while (length > 0) {
          std::optional<Component> c1 = take.take(length, Kind::insert);
          CONVLAB_ASSERT(c1.has_value());
          if (c1->kind == Kind::insert) {
            append(out, std::move(*c1));
          } else {
            length -= c1->n;
          }
        }
        break;
      }
    }
  }
  while (std::optional<Component> c = take.take(Taker::kAll, Kind::insert)) append(out, std::move(*c));
  return trim(std::move(out));
}

Op compose(const Op& a, const Op& b) {
  CONVLAB_ASSERT(check(a).has_value());
  CONVLAB_ASSERT(check(b).has_value());
  Op out;
  Taker take(a);
  for (const Component& c : b) {
    switch (c.kind) {
      case Kind::skip: {
        // b keeps a's output: a's components pass through; a's deletes read no output.
        std::uint64_t length = c.n;
        while (length > 0) {
          std::optional<Component> chunk = take.take(length, Kind::del);
          CONVLAB_ASSERT(chunk.has_value());
          if (chunk->kind != Kind::del) length -= chunk->length();
          append(out, std::move(*chunk));
        }
        break;
      }
      case Kind::insert:
        append(out, c);
        break;
      case Kind::del: {
        // b deletes a's output: skipped original text becomes a delete, a's own inserts cancel.
        std::uint64_t length = c.n;
        std::uint64_t offset = 0;
        while (offset < length) {
          std::optional<Component> chunk = take.take(length - offset, Kind::del);
          CONVLAB_ASSERT(chunk.has_value());
          switch (chunk->kind) {
            case Kind::skip:
              offset += chunk->n;
              append(out, Component::del(chunk->n));
              break;
            case Kind::insert:
              offset += chunk->text.size();
              break;
            case Kind::del:
              append(out, std::move(*chunk));
              break;
          }
        }
        break;
      }
    }
  }
  while (std::optional<Component> c = take.take(Taker::kAll, Kind::del)) append(out, std::move(*c));
  return trim(std::move(out));
}

boost::json::value op_to_json(const Op& op) {
  boost::json::array arr;
  arr.reserve(op.size());
  for (const Component& c : op) {
    switch (c.kind) {
      case Kind::skip:
        arr.emplace_back(c.n);
        break;
      case Kind::insert:
        arr.emplace_back(boost::json::string(utf8_encode(c.text)));
        break;
      case Kind::del:
        arr.emplace_back(boost::json::object{{"d", c.n}});
        break;
    }
  }
  return arr;
}

namespace {

// A JSON number that is a whole count in [1, kComponentLengthMax]; JavaScript writes 3 and
// 3.0 alike, so integral doubles count too.
std::optional<std::uint64_t> json_count(const boost::json::value& v) {
  if (v.is_int64()) {
    const std::int64_t i = v.get_int64();
    if (i < 1 || static_cast<std::uint64_t>(i) > kComponentLengthMax) return std::nullopt;
    return static_cast<std::uint64_t>(i);
  }
  if (v.is_uint64()) {
    const std::uint64_t u = v.get_uint64();
    if (u < 1 || u > kComponentLengthMax) return std::nullopt;
    return u;
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (!(d >= 1.0 && d <= static_cast<double>(kComponentLengthMax))) return std::nullopt;
    const auto u = static_cast<std::uint64_t>(d);
    if (static_cast<double>(u) != d) return std::nullopt;
    return u;
  }
  return std::nullopt;
}

}  // namespace

Result<Op> op_from_json(const boost::json::value& v) {
  if (!v.is_array()) return make_error("op must be an array of components");
  Op op;
  op.reserve(v.get_array().size());
  for (std::size_t i = 0; i < v.get_array().size(); ++i) {
    const boost::json::value& c = v.get_array()[i];
    const std::string at = "component " + std::to_string(i) + ": ";
    if (c.is_string()) {
      auto text = utf8_decode(std::string_view(c.get_string()));
      if (!text) return make_error(at + text.error().message);
      op.push_back(Component::insert(std::move(*text)));
    } else if (c.is_object()) {
      const boost::json::object& o = c.get_object();
      const boost::json::value* d = o.if_contains("d");
      if (d == nullptr || o.size() != 1) return make_error(at + "object components must be {\"d\":N}");
      if (d->is_string()) return make_error(at + "invertible deletes {\"d\":\"text\"} are not supported");
      auto n = json_count(*d);
      if (!n) return make_error(at + "delete must be a whole number in [1, 2^32)");
      op.push_back(Component::del(*n));
    } else if (c.is_number()) {
      auto n = json_count(c);
      if (!n) return make_error(at + "skip must be a whole number in [1, 2^32)");
      op.push_back(Component::skip(*n));
    } else {
      return make_error(at + "must be a number, a string or {\"d\":N}");
    }
  }
  if (auto ok = check(op); !ok) return ok.error();
  return op;
}

std::vector<CharId> insert_ids(const Op& op) {
  std::vector<CharId> out;
  for (const Component& c : op) {
    if (c.kind == Kind::insert) out.insert(out.end(), c.ids.begin(), c.ids.end());
  }
  return out;
}

std::uint64_t inserted_chars(const Op& op) {
  std::uint64_t n = 0;
  for (const Component& c : op) {
    if (c.kind == Kind::insert) n += c.text.size();
  }
  return n;
}

void set_insert_ids(Op& op, const std::vector<CharId>& ids) {
  CONVLAB_ASSERT(ids.size() == inserted_chars(op));
  std::size_t at = 0;
  for (Component& c : op) {
    if (c.kind != Kind::insert) continue;
    const auto b = static_cast<std::ptrdiff_t>(at);
    const auto e = static_cast<std::ptrdiff_t>(at + c.text.size());
    c.ids.assign(ids.begin() + b, ids.begin() + e);
    at += c.text.size();
  }
}

Op from_splice(std::uint64_t pos, std::uint64_t del, std::u32string ins, std::vector<CharId> ids) {
  Op op;
  append(op, Component::skip(pos));
  if (!ins.empty()) append(op, Component::insert(std::move(ins), std::move(ids)));
  append(op, Component::del(del));
  return trim(std::move(op));
}

}  // namespace convlab::ot
