#include "tipc/netlink.hpp"

#include <seqmq/tipc.hpp>

#include <linux/tipc_netlink.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

namespace seqmq {
namespace tipc {
namespace {

class netlink_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "netlink"; }

    std::string message(int value) const override {
        if (value > 0 && value <= NLE_MAX)
            return ::nl_geterror(value);
        return "netlink error " + std::to_string(value);
    }

    std::error_condition default_error_condition(int value) const noexcept override {
        switch (value) {
        case NLE_INTR:
            return std::errc::interrupted;
        case NLE_BAD_SOCK:
            return std::errc::bad_file_descriptor;
        case NLE_AGAIN:
            return std::errc::resource_unavailable_try_again;
        case NLE_NOMEM:
            return std::errc::not_enough_memory;
        case NLE_EXIST:
            return std::errc::file_exists;
        case NLE_INVAL:
            return std::errc::invalid_argument;
        case NLE_RANGE:
            return std::errc::result_out_of_range;
        case NLE_MSGSIZE:
        case NLE_MSG_TRUNC:
            return std::errc::message_size;
        case NLE_OPNOTSUPP:
            return std::errc::operation_not_supported;
        case NLE_AF_NOSUPPORT:
            return std::errc::address_family_not_supported;
        case NLE_OBJ_NOTFOUND:
            return std::errc::no_such_file_or_directory;
        case NLE_BUSY:
            return std::errc::device_or_resource_busy;
        case NLE_NOACCESS:
            return std::errc::permission_denied;
        case NLE_PERM:
            return std::errc::operation_not_permitted;
        case NLE_NODEV:
            return std::errc::no_such_device;
        case NLE_SEQ_MISMATCH:
        case NLE_MSG_OVERFLOW:
        case NLE_MSG_TOOSHORT:
        case NLE_PROTO_MISMATCH:
        case NLE_PARSE_ERR:
            return std::errc::protocol_error;
        default:
            return {value, *this};
        }
    }
};

} // namespace

const std::error_category& netlink_category() noexcept {
    static const netlink_category_impl instance;
    return instance;
}

} // namespace tipc

namespace detail {

std::error_code netlink_error(int nle) noexcept {
    return {nle < 0 ? -nle : nle, tipc::netlink_category()};
}

// ---- netlink_message ----

result<netlink_message> netlink_message::create(int family, std::uint8_t command, kind how) {
    netlink_message msg(::nlmsg_alloc());
    if (!msg.msg_)
        return std::unexpected(netlink_error(NLE_NOMEM));
    // Ask for the ack explicitly: the end of an action is its ack, whatever libnl's defaults.
    const int flags = how == kind::dump ? NLM_F_DUMP : NLM_F_ACK;
    if (!::genlmsg_put(msg.msg_, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, command,
                       TIPC_GENL_V2_VERSION))
        return std::unexpected(netlink_error(NLE_NOMEM));
    return msg;
}

void netlink_message::reset(nl_msg* msg) noexcept {
    if (msg_)
        ::nlmsg_free(msg_);
    msg_ = msg;
}

result<void> netlink_message::put_u32(int type, std::uint32_t value) {
    if (int rc = ::nla_put_u32(msg_, type, value); rc < 0)
        return std::unexpected(netlink_error(rc));
    return {};
}

result<void> netlink_message::put_u64(int type, std::uint64_t value) {
    if (int rc = ::nla_put_u64(msg_, type, value); rc < 0)
        return std::unexpected(netlink_error(rc));
    return {};
}

result<void> netlink_message::put_string(int type, std::string_view value) {
    const std::string terminated(value);
    if (int rc = ::nla_put_string(msg_, type, terminated.c_str()); rc < 0)
        return std::unexpected(netlink_error(rc));
    return {};
}

result<void> netlink_message::put_bytes(int type, std::span<const std::byte> value) {
    if (int rc = ::nla_put(msg_, type, static_cast<int>(value.size()), value.data()); rc < 0)
        return std::unexpected(netlink_error(rc));
    return {};
}

result<nlattr*> netlink_message::open_nest(int type) {
    nlattr* start = ::nla_nest_start(msg_, type);
    if (!start)
        return std::unexpected(netlink_error(NLE_NOMEM));
    return start;
}

result<void> netlink_message::close_nest(nlattr* start) {
    if (int rc = ::nla_nest_end(msg_, start); rc < 0)
        return std::unexpected(netlink_error(rc));
    return {};
}

void netlink_message::cancel_nest(nlattr* start) noexcept {
    ::nla_nest_cancel(msg_, start);
}

// ---- netlink_attributes ----

netlink_attributes netlink_attributes::of_message(nl_msg* msg, int max_type) {
    netlink_attributes attrs;
    attrs.table_.assign(static_cast<std::size_t>(max_type) + 1, nullptr);
    if (::genlmsg_parse(::nlmsg_hdr(msg), 0, attrs.table_.data(), max_type, nullptr) < 0)
        attrs.table_.clear();
    return attrs;
}

netlink_attributes netlink_attributes::nested(int type, int max_type) const {
    netlink_attributes attrs;
    const nlattr* nest = get(type);
    if (!nest)
        return attrs;
    attrs.table_.assign(static_cast<std::size_t>(max_type) + 1, nullptr);
    if (::nla_parse_nested(attrs.table_.data(), max_type, const_cast<nlattr*>(nest), nullptr) < 0)
        attrs.table_.clear();
    return attrs;
}

const nlattr* netlink_attributes::get(int type) const noexcept {
    if (type <= 0 || static_cast<std::size_t>(type) >= table_.size())
        return nullptr;
    return table_[static_cast<std::size_t>(type)];
}

std::optional<std::uint32_t> netlink_attributes::u32(int type) const noexcept {
    const nlattr* a = get(type);
    if (!a || ::nla_len(a) < static_cast<int>(sizeof(std::uint32_t)))
        return std::nullopt;
    std::uint32_t value;
    std::memcpy(&value, ::nla_data(a), sizeof value);
    return value;
}

std::optional<std::uint64_t> netlink_attributes::u64(int type) const noexcept {
    const nlattr* a = get(type);
    if (!a || ::nla_len(a) < static_cast<int>(sizeof(std::uint64_t)))
        return std::nullopt;
    std::uint64_t value;
    std::memcpy(&value, ::nla_data(a), sizeof value);
    return value;
}

std::optional<std::string> netlink_attributes::string(int type) const {
    const nlattr* a = get(type);
    if (!a)
        return std::nullopt;
    const auto* text = static_cast<const char*>(::nla_data(a));
    return std::string(text, ::strnlen(text, static_cast<std::size_t>(::nla_len(a))));
}

std::span<const std::byte> netlink_attributes::bytes(int type) const noexcept {
    const nlattr* a = get(type);
    if (!a)
        return {};
    return {static_cast<const std::byte*>(::nla_data(a)), static_cast<std::size_t>(::nla_len(a))};
}

// ---- netlink_socket ----

void netlink_socket::reset(nl_sock* sock) noexcept {
    if (sock_)
        ::nl_socket_free(sock_);
    sock_ = sock;
}

result<netlink_socket> netlink_socket::open() {
    nl_sock* raw = ::nl_socket_alloc();
    if (!raw)
        return std::unexpected(netlink_error(NLE_NOMEM));
    netlink_socket sock(raw, 0);
    if (int rc = ::genl_connect(raw); rc < 0)
        return std::unexpected(netlink_error(rc));
    // Replies to a dump can exceed a page; peeking lets libnl size its buffer to each one.
    ::nl_socket_enable_msg_peek(raw);
    const int family = ::genl_ctrl_resolve(raw, TIPC_GENL_V2_NAME);
    if (family == -NLE_OBJ_NOTFOUND)
        return std::unexpected(make_error_code(errc::backend_unavailable));
    if (family < 0)
        return std::unexpected(netlink_error(family));
    sock.family_ = family;
    return sock;
}

namespace {

// What the libnl callbacks of one exchange learn; they are C callbacks, so they must not throw.
struct exchange {
    const netlink_socket::reply_handler* on_reply = nullptr;
    bool finished = false;
    int kernel_errno = 0;
    std::error_code reply_error;
};

int on_valid(nl_msg* msg, void* arg) {
    auto& ex = *static_cast<exchange*>(arg);
    if (!*ex.on_reply)
        return NL_OK;
    try {
        auto attrs = netlink_attributes::of_message(msg, TIPC_NLA_MAX);
        if (result<void> r = (*ex.on_reply)(attrs); !r) {
            ex.reply_error = r.error();
            return NL_STOP;
        }
    } catch (const std::bad_alloc&) {
        ex.reply_error = std::make_error_code(std::errc::not_enough_memory);
        return NL_STOP;
    }
    return NL_OK;
}

// An errno from a netlink reply (negative, as the kernel sends it, or positive): 0 for none;
// anything outside 1..4095 (what the kernel's errnos span) is a malformed reply, EPROTO. Never
// -INT_MIN, which overflows.
int reply_errno(int error) noexcept {
    if (error == 0)
        return 0;
    if (error < -4095 || error > 4095)
        return EPROTO;
    return error < 0 ? -error : error;
}

// The end of a dump; a dump that failed part way carries the negative errno in it.
int on_finish(nl_msg* msg, void* arg) {
    auto& ex = *static_cast<exchange*>(arg);
    ex.finished = true;
    nlmsghdr* hdr = ::nlmsg_hdr(msg);
    if (::nlmsg_datalen(hdr) >= static_cast<int>(sizeof(int))) {
        int error;
        std::memcpy(&error, ::nlmsg_data(hdr), sizeof error);
        if (error < 0)
            ex.kernel_errno = reply_errno(error);
    }
    return NL_STOP;
}

int on_ack(nl_msg*, void* arg) {
    static_cast<exchange*>(arg)->finished = true;
    return NL_STOP;
}

// libnl would turn the kernel's errno into an NLE code and lose it; keep the errno itself.
int on_error(sockaddr_nl*, nlmsgerr* err, void* arg) {
    auto& ex = *static_cast<exchange*>(arg);
    ex.finished = true;
    ex.kernel_errno = reply_errno(err->error);
    return NL_STOP;
}

struct callbacks_release {
    void operator()(nl_cb* cb) const noexcept { ::nl_cb_put(cb); }
};

} // namespace

result<void> netlink_socket::transact(const netlink_message& request,
                                      const reply_handler& on_reply) {
    std::unique_ptr<nl_cb, callbacks_release> cb(::nl_cb_alloc(NL_CB_DEFAULT));
    if (!cb)
        return std::unexpected(netlink_error(NLE_NOMEM));
    exchange ex;
    ex.on_reply = &on_reply;
    ::nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &ex);
    ::nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &ex);
    ::nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, on_ack, &ex);
    ::nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &ex);

    if (int rc = ::nl_send_auto(sock_, request.get()); rc < 0)
        return std::unexpected(netlink_error(rc));
    // nl_recvmsgs returns after each datagram unless a dump is in progress; an action's reply
    // and its ack come in separate datagrams.
    while (!ex.finished) {
        const int rc = ::nl_recvmsgs(sock_, cb.get());
        if (ex.kernel_errno != 0)
            return std::unexpected(std::error_code(ex.kernel_errno, std::system_category()));
        if (ex.reply_error)
            return std::unexpected(ex.reply_error);
        if (rc < 0)
            return std::unexpected(netlink_error(rc));
    }
    return {};
}

} // namespace detail
} // namespace seqmq
