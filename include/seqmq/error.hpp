// seqmq — System V message-queue semantics on SOCK_SEQPACKET sockets.
#pragma once

#include <expected>
#include <system_error>

namespace seqmq {

/// The result of every fallible call: a value, or an error code.
/// errno values stay in std::system_category(), so callers compare with std::errc::no_message,
/// std::errc::timed_out and friends; conditions that belong to seqmq use seqmq::errc.
template <class T>
using result = std::expected<T, std::error_code>;

/// Conditions that are seqmq's own. Each compares equal to the std::errc condition named in its
/// comment, so `ec == std::errc::invalid_argument` holds for every bad-address code.
enum class errc {
    bad_scheme = 1,      ///< address has no known scheme (unix:, tipc:, auto:); invalid_argument
    bad_unix_path,       ///< unix path empty, not absolute, too long or has a NUL; invalid_argument
    bad_abstract_name,   ///< unix:@ name empty, too long or has a NUL; invalid_argument
    bad_tipc_type,       ///< TIPC type missing or not a 32-bit number; invalid_argument
    reserved_tipc_type,  ///< TIPC type below 64, reserved by TIPC; invalid_argument
    bad_tipc_instance,   ///< TIPC instance missing or not a 32-bit number; invalid_argument
    bad_tipc_scope,      ///< scope suffix other than /node or /cluster; invalid_argument
    bad_auto_name,       ///< auto: name empty, too long or not [A-Za-z0-9._-]; invalid_argument
    bad_type,            ///< message type below 1 on send; invalid_argument
    bad_frame,           ///< a peer sent a malformed record; protocol_error
    backend_unavailable, ///< the kernel lacks the address family (TIPC);
                         ///< address_family_not_supported
    mailbox_closed,      ///< the mailbox went away while connected; identifier_removed (as EIDRM)
    wrong_role,          ///< send on a mailbox or receive on a sender; operation_not_supported
};

/// The category of seqmq::errc.
const std::error_category& category() noexcept;

/// Makes an error_code of seqmq's category.
std::error_code make_error_code(errc e) noexcept;

} // namespace seqmq

template <>
struct std::is_error_code_enum<seqmq::errc> : std::true_type {};
