#include <seqmq/error.hpp>

#include <string>

namespace seqmq {
namespace {

class seqmq_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "seqmq"; }

    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::bad_scheme:
            return "bad address: the scheme must be unix:, tipc: or auto:";
        case errc::bad_unix_path:
            return "bad address: the unix path must be absolute, without NUL, at most 107 bytes";
        case errc::bad_abstract_name:
            return "bad address: the abstract name after unix:@ must be 1 to 106 bytes, no NUL";
        case errc::bad_tipc_type:
            return "bad address: the TIPC type must be a 32-bit number (tipc:TYPE:INSTANCE)";
        case errc::reserved_tipc_type:
            return "bad address: TIPC types below 64 are reserved by TIPC";
        case errc::bad_tipc_instance:
            return "bad address: the TIPC instance must be a 32-bit number (tipc:TYPE:INSTANCE)";
        case errc::bad_tipc_scope:
            return "bad address: the TIPC scope must be /node or /cluster";
        case errc::bad_auto_name:
            return "bad address: the auto: name must be 1 to 64 characters of A-Z a-z 0-9 . _ -";
        case errc::bad_type:
            return "message type must be at least 1";
        case errc::bad_frame:
            return "malformed record on the connection";
        case errc::backend_unavailable:
            return "TIPC not available in this kernel";
        case errc::mailbox_closed:
            return "the mailbox closed the connection";
        case errc::wrong_role:
            return "operation not supported on this end (send on a mailbox, receive on a sender)";
        }
        return "unknown seqmq error " + std::to_string(value);
    }

    std::error_condition default_error_condition(int value) const noexcept override {
        switch (static_cast<errc>(value)) {
        case errc::bad_scheme:
        case errc::bad_unix_path:
        case errc::bad_abstract_name:
        case errc::bad_tipc_type:
        case errc::reserved_tipc_type:
        case errc::bad_tipc_instance:
        case errc::bad_tipc_scope:
        case errc::bad_auto_name:
        case errc::bad_type:
            return std::errc::invalid_argument;
        case errc::bad_frame:
            return std::errc::protocol_error;
        case errc::backend_unavailable:
            return std::errc::address_family_not_supported;
        case errc::mailbox_closed:
            return std::errc::identifier_removed;
        case errc::wrong_role:
            return std::errc::operation_not_supported;
        }
        return {value, *this};
    }
};

} // namespace

const std::error_category& category() noexcept {
    static const seqmq_category instance;
    return instance;
}

std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

} // namespace seqmq
