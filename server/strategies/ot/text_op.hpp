#pragma once
// The text operation of the `ot` strategy: the semantics of the npm package ot-text-unicode@4
// (ShareDB's text type), reimplemented. Positions and lengths count Unicode code points.
//
// An op is a list of components walked over the document from its start:
//   skip N    keep the next N characters             JSON: N
//   insert S  insert S at the current position       JSON: "S"
//   delete N  remove the next N characters           JSON: {"d":N}
// Characters after the last component are kept: an op never needs a trailing skip, and the
// normal form has none ([] is the identity). Adjacent components of one kind are merged in
// normal form. The package's invertible deletes ({"d":"text"}) are not supported.
//
// Every inserted character may carry a CharId (who typed it). Ids never change what transform
// or compose produce; they travel with their characters, so a checker can tell which typed
// characters survived. Ops read from the package's JSON form get CharId{} (unknown).
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::ot {

// Longest skip or delete one component may hold. Bounded so that sums over an op of at most
// Reader::kFieldBytesMax components cannot overflow 64 bits.
inline constexpr std::uint64_t kComponentLengthMax = 0xffffffffull;

struct Component {
  enum class Kind : std::uint8_t { skip = 0, insert = 1, del = 2 };
  Kind kind = Kind::skip;
  std::uint64_t n = 0;        // skip and delete: how many characters
  std::u32string text;        // insert: the characters
  std::vector<CharId> ids;    // insert: one id per character (same size as text)

  static Component skip(std::uint64_t count) { return {Kind::skip, count, {}, {}}; }
  static Component del(std::uint64_t count) { return {Kind::del, count, {}, {}}; }
  static Component insert(std::u32string s, std::vector<CharId> id);
  // An insert whose characters have no known author (ids are CharId{}).
  static Component insert(std::u32string s);

  // Characters this component covers: its skip/delete count or its insert size.
  std::uint64_t length() const { return kind == Kind::insert ? text.size() : n; }

  friend bool operator==(const Component&, const Component&) = default;
};

using Op = std::vector<Component>;

// checkOp: skips and deletes > 0 (and at most kComponentLengthMax), inserts non-empty with one
// id per character and only Unicode scalar values, no two adjacent skips, no trailing skip.
// Adjacent inserts or deletes are allowed (as in the package); normalize() merges them.
Result<void> check(const Op& op);

// Merges adjacent components of one kind, drops empty ones and a trailing skip.
Op normalize(const Op& op);

// Characters of the document the op reads (skips + deletes) and how the length changes.
std::uint64_t input_length(const Op& op);
std::int64_t length_delta(const Op& op);

// apply: applies `op` to a document given as text and ids (same size). An Error, and no output,
// when the op is invalid or reads past the end of the document. (The package silently clamps
// a delete that runs past the end; here that is an error, like a skip past the end.)
struct Text {
  std::u32string text;
  std::vector<CharId> ids;
  friend bool operator==(const Text&, const Text&) = default;
};
Result<Text> apply_op(const Text& doc, const Op& op);

enum class Side : std::uint8_t { left, right };

// transform(op, other, side): `op` rewritten to apply after `other`, both made against the same
// document. At a tie (both insert at one place), `left` puts op's insert first. Inserts inside a
// range `other` deleted survive; deletes of text `other` already deleted vanish.
// REQUIRES: check(op) and check(other) succeed.
// The result is in normal form. (Given non-normalized inputs, results follow the package's
// component-by-component walk, which can differ from transforming their normal forms.)
Op transform(const Op& op, const Op& other, Side side);

// compose(a, b): one op with the effect of a then b. REQUIRES: check(a) and check(b) succeed.
Op compose(const Op& a, const Op& b);

// The package's JSON form: [3,"hi",{"d":2}]. Ids are not part of it.
boost::json::value op_to_json(const Op& op);
// Reads the package's JSON form; an Error for anything check() would refuse, for non-integer
// or out-of-range numbers, for invertible deletes and for text that is not valid UTF-8.
// Inserted characters get CharId{}.
Result<Op> op_from_json(const boost::json::value& v);

// All ids of the op's inserted characters, in op order, and their inverse: giving them back to
// an op of the same shape (used by the codec, which sends ids apart from the package form).
std::vector<CharId> insert_ids(const Op& op);
// REQUIRES: ids.size() equals the op's inserted characters.
void set_insert_ids(Op& op, const std::vector<CharId>& ids);
std::uint64_t inserted_chars(const Op& op);

// The op a splice makes: [pos, ins, {d:del}] without its empty parts (insert before delete,
// which is what the package's compose of remove-then-insert gives).
Op from_splice(std::uint64_t pos, std::uint64_t del, std::u32string ins, std::vector<CharId> ids);

}  // namespace convlab::ot
