// A practical subset of JSON Schema (draft 2020-12 semantics) for checking
// CONFIG documents before they are published (docs/cli.md, "Content
// checks"). A schema using a keyword outside the subset is refused when it
// is parsed, naming the keyword, so nothing in a schema is silently left
// unenforced.
//
// Supported: type (a name or a list of names: null, boolean, object, array,
// number, integer, string), enum, const, properties, required,
// additionalProperties (true, false or a schema), minProperties,
// maxProperties, items (one schema for every element), minItems, maxItems,
// uniqueItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
// multipleOf (integers only), minLength, maxLength (in code points). The
// annotations $schema, $id, $comment, title, description, default,
// examples, deprecated, readOnly, writeOnly are accepted and ignored. Not
// supported: $ref and $defs, allOf/anyOf/oneOf/not, if/then/else, pattern,
// patternProperties, format, dependent*, prefixItems, contains and the
// rest.
#ifndef STRATA_BASE_JSON_SCHEMA_H_
#define STRATA_BASE_JSON_SCHEMA_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/json.h"

namespace strata {

class JsonSchema {
 public:
  // Parses `text` (JSON, fractions allowed) and checks it is a schema of
  // the subset: kInvalidArgument naming the keyword and its place
  // otherwise.
  static absl::StatusOr<JsonSchema> Parse(std::string_view text);
  static absl::StatusOr<JsonSchema> FromJson(const Json& schema);

  // Every violation of `document`, each "at /a/0/b: what was wrong" (at
  // most `max_errors`); empty when it conforms.
  std::vector<std::string> Validate(const Json& document,
                                    size_t max_errors = 20) const;
  // kInvalidArgument listing the violations (with `what`, e.g. "config
  // payment.limits@3", in front), or OK.
  absl::Status Check(const Json& document, std::string_view what) const;

  const Json& json() const { return *schema_; }

 private:
  explicit JsonSchema(std::shared_ptr<const Json> schema)
      : schema_(std::move(schema)) {}
  std::shared_ptr<const Json> schema_;  // never null
};

// Numbers compare by value (1 equals 1.0), everything else structurally.
bool JsonEquals(const Json& a, const Json& b);

}  // namespace strata

#endif  // STRATA_BASE_JSON_SCHEMA_H_
