#include "transport/transport.hpp"

#include <cstring>
#include <linux/tipc.h>
#include <sys/socket.h>

namespace seqmq::detail {
namespace {

result<unique_fd> new_socket() noexcept {
    unique_fd fd(::socket(AF_TIPC, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        return std::unexpected(last_error());
    return fd;
}

// This node's address, as a lookup domain that keeps a connect on the node.
std::uint32_t own_node(int fd) noexcept {
    sockaddr_tipc self{};
    socklen_t len = sizeof self;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len) < 0)
        return 0;
    return self.addr.id.node;
}

class tipc_transport_impl final : public transport {
public:
    const char* name() const noexcept override { return "tipc"; }

    std::size_t max_payload() const noexcept override { return TIPC_MAX_USER_MSG_SIZE - 24; }

    result<unique_fd> listen(const address& where, int backlog, bool) const override {
        auto fd = new_socket();
        if (!fd)
            return fd;
        sockaddr_tipc sa{};
        sa.family = AF_TIPC;
        sa.addrtype = TIPC_SERVICE_RANGE;
        sa.scope = where.scope() == tipc_scope::node ? TIPC_NODE_SCOPE : TIPC_CLUSTER_SCOPE;
        sa.addr.nameseq.type = where.tipc_type();
        sa.addr.nameseq.lower = where.tipc_instance();
        sa.addr.nameseq.upper = where.tipc_instance();
        if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
            return std::unexpected(last_error());
        if (::listen(fd->get(), backlog) < 0)
            return std::unexpected(last_error());
        return fd;
    }

    result<unique_fd> connect(const address& where, const deadline& until) const override {
        auto fd = new_socket();
        if (!fd)
            return fd;
        sockaddr_tipc sa{};
        sa.family = AF_TIPC;
        sa.addrtype = TIPC_SERVICE_ADDR;
        sa.addr.name.name.type = where.tipc_type();
        sa.addr.name.name.instance = where.tipc_instance();
        sa.addr.name.domain = where.scope() == tipc_scope::node ? own_node(fd->get()) : 0;
        // TIPC completes a connection only when the mailbox accept()s it. Waiting here would
        // deadlock a thread that owns both ends, so the socket is returned still connecting:
        // sends wait for POLLOUT (established) under their own deadline. A service nobody has
        // bound fails at once (EHOSTUNREACH).
        (void)until;
        int rc = ::connect(fd->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        if (rc < 0 && errno != EINPROGRESS)
            return std::unexpected(last_error());
        return fd;
    }

    peer_identity peer(int) const noexcept override { return {}; }

    // TIPC accepts only SHUT_RDWR; without it the peer sees ECONNRESET instead of end of stream.
    void close_connection(unique_fd fd) const noexcept override {
        ::shutdown(fd.get(), SHUT_RDWR);
        fd.reset();
    }
};

} // namespace

const transport* tipc_transport() noexcept {
    static const bool present = [] { return bool(new_socket()); }();
    static const tipc_transport_impl instance;
    return present ? &instance : nullptr;
}

} // namespace seqmq::detail
