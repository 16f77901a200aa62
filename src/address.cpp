#include <seqmq/address.hpp>

#include "sys/fd.hpp"

#include <charconv>
#include <sys/socket.h>

#ifndef AF_TIPC
#define AF_TIPC 30
#endif

namespace seqmq {
namespace {

// sun_path is 108 bytes: a path needs its NUL; an abstract name starts after a leading NUL.
constexpr std::size_t max_path = 107;
constexpr std::size_t max_abstract = 106;
constexpr std::size_t max_auto = 64;
constexpr std::uint32_t first_free_tipc_type = 64;

std::unexpected<std::error_code> fail(errc e) {
    return std::unexpected(make_error_code(e));
}

// Decimal or 0x-hex, the whole text, fitting 32 bits.
bool parse_u32(std::string_view s, std::uint32_t& out) {
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        base = 16;
    }
    if (s.empty())
        return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc{} && end == s.data() + s.size();
}

bool auto_name_ok(std::string_view n) {
    if (n.empty() || n.size() > max_auto)
        return false;
    for (char c : n)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}

bool tipc_in_kernel() {
    static const bool present = [] {
        detail::unique_fd s(::socket(AF_TIPC, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        return bool(s);
    }();
    return present;
}

} // namespace

result<address> address::unix_path(std::string_view path) {
    if (path.empty() || path.front() != '/' || path.size() > max_path ||
        path.find('\0') != std::string_view::npos)
        return fail(errc::bad_unix_path);
    address a;
    a.family_ = address_family::unix_path;
    a.name_ = path;
    return a;
}

result<address> address::unix_abstract(std::string_view name) {
    if (name.empty() || name.size() > max_abstract || name.find('\0') != std::string_view::npos)
        return fail(errc::bad_abstract_name);
    address a;
    a.family_ = address_family::unix_abstract;
    a.name_ = name;
    return a;
}

result<address> address::tipc(std::uint32_t type, std::uint32_t instance, tipc_scope scope) {
    if (type < first_free_tipc_type)
        return fail(errc::reserved_tipc_type);
    address a;
    a.family_ = address_family::tipc;
    a.type_ = type;
    a.instance_ = instance;
    a.scope_ = scope;
    return a;
}

result<address> address::parse(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return fail(errc::bad_scheme);
    std::string_view scheme = text.substr(0, colon), rest = text.substr(colon + 1);

    if (scheme == "unix") {
        if (!rest.empty() && rest.front() == '@')
            return unix_abstract(rest.substr(1));
        return unix_path(rest);
    }
    if (scheme == "auto") {
        if (!auto_name_ok(rest))
            return fail(errc::bad_auto_name);
        address a;
        a.family_ = address_family::automatic;
        a.name_ = rest;
        return a;
    }
    if (scheme == "tipc") {
        tipc_scope scope = tipc_scope::cluster;
        if (auto slash = rest.find('/'); slash != std::string_view::npos) {
            std::string_view s = rest.substr(slash + 1);
            if (s == "node")
                scope = tipc_scope::node;
            else if (s != "cluster")
                return fail(errc::bad_tipc_scope);
            rest = rest.substr(0, slash);
        }
        auto sep = rest.find(':');
        std::uint32_t type = 0, instance = 0;
        if (!parse_u32(rest.substr(0, sep), type))
            return fail(errc::bad_tipc_type);
        if (sep == std::string_view::npos || !parse_u32(rest.substr(sep + 1), instance))
            return fail(errc::bad_tipc_instance);
        return tipc(type, instance, scope);
    }
    return fail(errc::bad_scheme);
}

std::uint32_t address::auto_tipc_type(std::string_view name) noexcept {
    std::uint32_t h = 2166136261u; // FNV-1a, 32 bits
    for (unsigned char c : name) {
        h ^= c;
        h *= 16777619u;
    }
    return 0x80000000u | (h & 0x7fffffffu);
}

address address::resolve() const {
    if (family_ != address_family::automatic)
        return *this;
    if (tipc_in_kernel())
        return *tipc(auto_tipc_type(name_), 0);
    return *unix_abstract("seqmq." + name_);
}

std::string address::to_string() const {
    switch (family_) {
    case address_family::unix_path:
        return "unix:" + name_;
    case address_family::unix_abstract:
        return "unix:@" + name_;
    case address_family::automatic:
        return "auto:" + name_;
    case address_family::tipc:
        return "tipc:" + std::to_string(type_) + ":" + std::to_string(instance_) +
               (scope_ == tipc_scope::node ? "/node" : "");
    }
    return {};
}

} // namespace seqmq
