// The tool's --json output: nlohmann-json documents, printed one to a line.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace seqmq::tool {

/// A JSON object that keeps its fields in the order they were set (the order the usage texts
/// list them).
using json = nlohmann::ordered_json;

/// Whether `bytes` is valid UTF-8, by the same rules nlohmann's dump() applies (no overlong
/// forms, no surrogates, nothing above U+10FFFF).
bool is_utf8(std::string_view bytes);

/// `bytes` in base64 (RFC 4648: A-Z a-z 0-9 + /, '=' padding).
std::string base64(std::string_view bytes);

/// Sets `object[key]` to `bytes` as a JSON string when they are valid UTF-8; otherwise sets
/// `object[key + "_base64"]` to their base64, so that exactly one of the two fields is present
/// and the bytes come back exactly. For payloads, queue names and anything else a user or the
/// kernel chose.
void put_bytes(json& object, std::string_view key, std::string_view bytes);

/// Prints `doc` compactly and a newline to standard output. Strict: every string in a
/// document went through put_bytes (or is the tool's own ASCII), so output is always UTF-8;
/// invalid UTF-8 would throw nlohmann::json::type_error rather than be written.
void print_json(const json& doc);

} // namespace seqmq::tool
