#include "tools/json_output.hpp"

#include <cstdio>

namespace seqmq::tool {

bool is_utf8(std::string_view bytes) {
    // nlohmann's serializer is the UTF-8 check: what it accepts is what print_json writes.
    try {
        (void)json(std::string(bytes)).dump(-1, ' ', false, json::error_handler_t::strict);
        return true;
    } catch (const json::type_error&) {
        return false;
    }
}

std::string base64(std::string_view bytes) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = unsigned(static_cast<unsigned char>(bytes[i])) << 16 |
                           unsigned(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                           unsigned(static_cast<unsigned char>(bytes[i + 2]));
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (const std::size_t left = bytes.size() - i; left > 0) {
        unsigned v = unsigned(static_cast<unsigned char>(bytes[i])) << 16;
        if (left == 2)
            v |= unsigned(static_cast<unsigned char>(bytes[i + 1])) << 8;
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        out += left == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

void put_bytes(json& object, std::string_view key, std::string_view bytes) {
    if (is_utf8(bytes))
        object[std::string(key)] = std::string(bytes);
    else
        object[std::string(key) + "_base64"] = base64(bytes);
}

void print_json(const json& doc) {
    const std::string text = doc.dump(-1, ' ', false, json::error_handler_t::strict);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
}

} // namespace seqmq::tool
