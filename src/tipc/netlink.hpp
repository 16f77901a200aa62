#pragma once

// Generic netlink plumbing for TIPC configuration, over libnl-genl-3: one owner for nl_sock, one
// for nl_msg, a reader for received attributes, and one request/reply loop.

#include <seqmq/error.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct nl_msg;
struct nl_sock;
struct nlattr;

namespace seqmq::detail {

/// A libnl NLE_* code (positive or negative) as an error_code of tipc::netlink_category().
std::error_code netlink_error(int nle) noexcept;

/// One netlink request under construction. Owns its nl_msg. Move-only.
class netlink_message {
public:
    /// How a request is answered.
    enum class kind {
        act,  ///< one action, answered by an ack (and maybe a reply before it)
        dump, ///< NLM_F_DUMP: any number of replies, then the end of the dump
    };

    /// A generic netlink request: command `command` of family `family`.
    /// Errors: not_enough_memory.
    static result<netlink_message> create(int family, std::uint8_t command, kind how);

    netlink_message(netlink_message&& o) noexcept : msg_(std::exchange(o.msg_, nullptr)) {}
    netlink_message& operator=(netlink_message&& o) noexcept {
        if (this != &o)
            reset(std::exchange(o.msg_, nullptr));
        return *this;
    }
    netlink_message(const netlink_message&) = delete;
    netlink_message& operator=(const netlink_message&) = delete;
    ~netlink_message() { reset(nullptr); }

    nl_msg* get() const noexcept { return msg_; }

    // Each put fails only when the message is full (NLE_NOMEM), which no TIPC request comes near.
    result<void> put_u32(int type, std::uint32_t value);
    result<void> put_u64(int type, std::uint64_t value);
    /// A NUL-terminated string attribute (as the kernel's NLA_STRING / NLA_NUL_STRING want).
    result<void> put_string(int type, std::string_view value);
    result<void> put_bytes(int type, std::span<const std::byte> value);

    /// Builds nested attribute `type`: opens it, lets `fill(*this)` put its members, closes it.
    /// The one place a nest is opened and closed, so no request can leave one open.
    template <class Fill>
    result<void> nest(int type, Fill&& fill) {
        auto start = open_nest(type);
        if (!start)
            return std::unexpected(start.error());
        if (result<void> filled = std::forward<Fill>(fill)(*this); !filled) {
            cancel_nest(*start);
            return filled;
        }
        return close_nest(*start);
    }

private:
    explicit netlink_message(nl_msg* msg) noexcept : msg_(msg) {}
    void reset(nl_msg* msg) noexcept;
    result<nlattr*> open_nest(int type);
    result<void> close_nest(nlattr* start);
    void cancel_nest(nlattr* start) noexcept;

    nl_msg* msg_ = nullptr;
};

/// The attributes of one received message or nest, by type. Every getter checks the attribute's
/// length, so a short or missing attribute reads as absent, never as garbage.
/// Points into the received message: valid only inside the reply callback.
class netlink_attributes {
public:
    netlink_attributes() = default;

    /// The top-level attributes of a generic netlink message, types 1..max_type.
    static netlink_attributes of_message(nl_msg* msg, int max_type);

    /// The attributes nested in attribute `type`, types 1..max_type; empty if absent or malformed.
    netlink_attributes nested(int type, int max_type) const;

    bool has(int type) const noexcept { return get(type) != nullptr; }
    std::optional<std::uint32_t> u32(int type) const noexcept;
    std::optional<std::uint64_t> u64(int type) const noexcept;
    /// A string attribute, up to its NUL or its end.
    std::optional<std::string> string(int type) const;
    /// The payload of an attribute; empty if absent.
    std::span<const std::byte> bytes(int type) const noexcept;

private:
    const nlattr* get(int type) const noexcept;

    std::vector<nlattr*> table_;
};

/// A generic netlink socket connected to the kernel with the TIPC family resolved. Owns its
/// nl_sock. Opened in the calling thread's network namespace. Move-only.
class netlink_socket {
public:
    /// Called with the top-level attributes of each reply; an error stops the exchange.
    using reply_handler = std::function<result<void>(const netlink_attributes&)>;

    /// Connects to generic netlink and resolves the family "TIPCv2".
    /// Errors: backend_unavailable when the kernel has no such family; netlink errors.
    static result<netlink_socket> open();

    netlink_socket(netlink_socket&& o) noexcept
        : sock_(std::exchange(o.sock_, nullptr)), family_(o.family_) {}
    netlink_socket& operator=(netlink_socket&& o) noexcept {
        if (this != &o) {
            reset(std::exchange(o.sock_, nullptr));
            family_ = o.family_;
        }
        return *this;
    }
    netlink_socket(const netlink_socket&) = delete;
    netlink_socket& operator=(const netlink_socket&) = delete;
    ~netlink_socket() { reset(nullptr); }

    /// The TIPC family's generic netlink id, for netlink_message::create().
    int family() const noexcept { return family_; }

    /// Sends `request` and reads until its ack (kind::act) or the end of the dump (kind::dump),
    /// passing each reply to `on_reply`.
    /// Errors: the kernel's errno in std::system_category(); netlink errors; on_reply's errors.
    result<void> transact(const netlink_message& request, const reply_handler& on_reply = {});

private:
    netlink_socket(nl_sock* sock, int family) noexcept : sock_(sock), family_(family) {}
    void reset(nl_sock* sock) noexcept;

    nl_sock* sock_ = nullptr;
    int family_ = 0;
};

} // namespace seqmq::detail
