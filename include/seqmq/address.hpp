#pragma once

#include <seqmq/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace seqmq {

/// Where an address lives.
enum class address_family {
    unix_path, ///< `unix:/path` — a file; permissions apply; shared by namespaces sharing the fs
    unix_abstract, ///< `unix:@name` — private to a network namespace
    tipc,          ///< `tipc:TYPE:INSTANCE[/node|/cluster]` — a TIPC service address
    automatic,     ///< `auto:NAME` — TIPC when the kernel has it, else unix:@seqmq.NAME
};

/// Visibility of a TIPC service address.
enum class tipc_scope { cluster, node };

/// A parsed seqmq address. Text form everywhere: unix:/run/x.sock, unix:@name,
/// tipc:TYPE:INSTANCE (cluster scope), tipc:TYPE:INSTANCE/node, auto:NAME.
class address {
public:
    /// Parses the text form, strictly.
    /// Errors: bad_scheme, bad_unix_path, bad_abstract_name, bad_tipc_type, reserved_tipc_type,
    /// bad_tipc_instance, bad_tipc_scope, bad_auto_name — each one names the part that is wrong and
    /// compares equal to std::errc::invalid_argument.
    static result<address> parse(std::string_view text);

    /// Makes `unix:/path`. Errors: bad_unix_path.
    static result<address> unix_path(std::string_view path);
    /// Makes `unix:@name`. Errors: bad_abstract_name.
    static result<address> unix_abstract(std::string_view name);
    /// Makes `tipc:TYPE:INSTANCE`. Errors: reserved_tipc_type.
    static result<address> tipc(std::uint32_t type, std::uint32_t instance,
                                tipc_scope scope = tipc_scope::cluster);

    /// The TIPC service type that `auto:NAME` maps to: 0x80000000 | (FNV-1a-32(NAME) & 0x7fffffff).
    /// Stable across releases; never below 64.
    static std::uint32_t auto_tipc_type(std::string_view name) noexcept;

    /// Turns `auto:NAME` into a concrete address: tipc:auto_tipc_type(NAME):0 when
    /// socket(AF_TIPC, SOCK_SEQPACKET) works on this kernel, else unix:@seqmq.NAME.
    /// Other addresses are returned unchanged.
    address resolve() const;

    address_family family() const noexcept { return family_; }
    /// The path (unix_path), the abstract name without '@' (unix_abstract) or the auto NAME.
    const std::string& name() const noexcept { return name_; }
    std::uint32_t tipc_type() const noexcept { return type_; }
    std::uint32_t tipc_instance() const noexcept { return instance_; }
    tipc_scope scope() const noexcept { return scope_; }

    /// The canonical text form; parse(to_string()) gives back an equal address.
    std::string to_string() const;

    friend bool operator==(const address&, const address&) = default;

private:
    address() = default;
    address_family family_ = address_family::unix_abstract;
    std::string name_;
    std::uint32_t type_ = 0;
    std::uint32_t instance_ = 0;
    tipc_scope scope_ = tipc_scope::cluster;
};

} // namespace seqmq
