#include "transport/transport.hpp"

#include <cstring>
#include <linux/tipc.h>
#include <poll.h>
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

std::error_code socket_error(int fd) noexcept {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return last_error();
    return err ? std::error_code(err, std::system_category()) : std::error_code();
}

class tipc_transport_impl final : public transport {
public:
    const char* name() const noexcept override { return "tipc"; }

    std::size_t max_payload() const noexcept override { return TIPC_MAX_USER_MSG_SIZE - 24; }

    result<listening> listen(const address& where, int backlog, bool) const override {
        auto fd = new_socket();
        if (!fd)
            return std::unexpected(fd.error());
        sockaddr_tipc sa{};
        sa.family = AF_TIPC;
        sa.addrtype = TIPC_SERVICE_RANGE;
        sa.scope = where.scope() == tipc_scope::node ? TIPC_NODE_SCOPE : TIPC_CLUSTER_SCOPE;
        sa.addr.nameseq.type = where.tipc_type();
        sa.addr.nameseq.lower = where.tipc_instance();
        sa.addr.nameseq.upper = where.tipc_instance();
        // Listen first: bind() publishes the name, and a sender woken by the topology service
        // connects at once; a socket not listening yet would reject it.
        if (::listen(fd->get(), backlog) < 0)
            return std::unexpected(last_error());
        if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
            return std::unexpected(last_error());
        return listening{std::move(*fd), {}};
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

    // A subscription to TIPC's topology service ({1,1}, on every node) for the service's
    // instance. TIPC_SUB_PORTS reports every publication, those already there included, each
    // with the publishing node, so a node-scope wait can skip other nodes' publications. The
    // kernel answers in the byte order it was asked in: host order here.
    result<void> wait_for_listener(const address& where, const deadline& until) const override {
        auto top = new_socket();
        if (!top)
            return std::unexpected(top.error());
        sockaddr_tipc server{};
        server.family = AF_TIPC;
        server.addrtype = TIPC_SERVICE_ADDR;
        server.addr.name.name.type = TIPC_TOP_SRV;
        server.addr.name.name.instance = TIPC_TOP_SRV;
        server.addr.name.domain = own_node(top->get());
        if (::connect(top->get(), reinterpret_cast<sockaddr*>(&server), sizeof server) < 0 &&
            errno != EINPROGRESS)
            return std::unexpected(last_error());
        if (auto w = wait_fd(top->get(), POLLOUT, until); !w)
            return w;
        if (auto e = socket_error(top->get()); e)
            return std::unexpected(e);

        if (until.passed())
            return std::unexpected(std::make_error_code(std::errc::timed_out));
        tipc_subscr request{};
        request.seq.type = where.tipc_type();
        request.seq.lower = where.tipc_instance();
        request.seq.upper = where.tipc_instance();
        const int left = until.poll_ms(); // -1: for ever
        request.timeout = left < 0 ? TIPC_WAIT_FOREVER : std::uint32_t(left);
        request.filter = TIPC_SUB_PORTS;
        if (retry_eintr([&] {
                return ::send(top->get(), &request, sizeof request, MSG_NOSIGNAL);
            }) != static_cast<ssize_t>(sizeof request))
            return std::unexpected(last_error());

        for (;;) {
            if (auto w = wait_fd(top->get(), POLLIN, until); !w)
                return w;
            tipc_event event{};
            ssize_t n =
                retry_eintr([&] { return ::recv(top->get(), &event, sizeof event, MSG_DONTWAIT); });
            if (n < 0 && errno == EAGAIN)
                continue;
            if (n < 0)
                return std::unexpected(last_error());
            if (n != static_cast<ssize_t>(sizeof event)) // the server closed the connection
                return std::unexpected(std::make_error_code(std::errc::connection_reset));
            if (event.event == TIPC_SUBSCR_TIMEOUT)
                return std::unexpected(std::make_error_code(std::errc::timed_out));
            if (event.event != TIPC_PUBLISHED)
                continue;
            // Node scope: connect() looks on this node only. Read the own address now, not
            // before: it changes once when TIPC confirms the node's address.
            if (where.scope() == tipc_scope::node && event.port.node != own_node(top->get()))
                continue;
            return {};
        }
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
