#include "shim/key_routing.hpp"

#include <charconv>
#include <cstdio>

namespace seqmq::shim {

namespace {

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// A 32-bit number as C writes it: 0x hex, 0 octal, or decimal; nothing else around it.
std::optional<std::uint32_t> number(std::string_view s) {
    s = trimmed(s);
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    } else if (s.size() > 1 && s[0] == '0') {
        base = 8;
        s.remove_prefix(1);
    }
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        return std::nullopt;
    return v;
}

} // namespace

result<key_routing> key_routing::parse(std::string_view text) {
    key_routing r;
    text = trimmed(text);
    if (text.empty() || text == "all")
        return r;
    r.all_ = false;
    if (text == "none")
        return r;
    const auto bad = std::unexpected(std::make_error_code(std::errc::invalid_argument));
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        if (comma != std::string_view::npos && trimmed(text).empty())
            return bad; // a trailing comma
        const auto dash = item.find('-');
        auto low = number(item.substr(0, dash));
        auto high = dash == std::string_view::npos ? low : number(item.substr(dash + 1));
        if (!low || !high || *high < *low)
            return bad;
        r.ranges_.emplace_back(*low, *high);
    }
    return r;
}

bool key_routing::to_seqmq(key_t key) const noexcept {
    if (all_)
        return true;
    const auto k = static_cast<std::uint32_t>(key);
    for (const auto& [low, high] : ranges_)
        if (low <= k && k <= high)
            return true;
    return false;
}

std::string queue_name_of(key_t key) {
    char name[16];
    std::snprintf(name, sizeof name, "0x%08x", static_cast<unsigned>(key));
    return name;
}

std::optional<key_t> key_of_queue_name(std::string_view name) noexcept {
    if (name.size() != 10 || name[0] != '0' || name[1] != 'x')
        return std::nullopt;
    std::uint32_t v = 0;
    for (char c : name.substr(2)) {
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return std::nullopt;
        v = v << 4 | std::uint32_t(d);
    }
    return static_cast<key_t>(v);
}

} // namespace seqmq::shim
