#pragma once

#include <seqmq/address.hpp>
#include <seqmq/error.hpp>

#include "daemon/durable/state_store.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace seqmq::daemon {

/// What seqmqd serves and its limits; each has a command-line flag.
struct server_options {
    std::vector<address> listen;          ///< where clients connect
    unsigned socket_mode = 0660;          ///< file mode of unix:/path sockets
    std::size_t max_queues = 1024;        ///< queues at once (msgmni); ENOSPC past it
    std::size_t default_capacity = 16384; ///< msg_qbytes of a new queue (msgmnb)
    std::size_t max_queue_bytes = 16384;  ///< msg_qbytes at most, except for root (msgmnb; EPERM)
    std::size_t max_message_size = 8192;  ///< msgmax
    std::size_t max_clients = 1024;       ///< connections at once; EUSERS past it
    std::size_t max_pending = 64;         ///< parked receives and sends per connection
    std::size_t credit_window = 65536;    ///< bytes of credit a connection may hold
    std::size_t max_output = 8u << 20;    ///< unread reply bytes before a client is cut
    std::size_t max_output_total = 64u << 20; ///< ... of all clients together
    std::size_t max_unacked = 4096; ///< messages a connection may hold unacknowledged (ENOBUFS)
    /// Memory for queued messages, messages in transit and credit, each message counted with
    /// its overhead; a send past it fails with ENOMEM.
    std::size_t max_memory = 256u << 20;
    /// Bytes the delivery socket of a queue holds ahead of its receivers, as the kernel counts
    /// them (SO_SNDBUF); 0: no delivery sockets, every receive a request.
    std::size_t delivery_window = 128u << 10;
    std::size_t spin_us = 0; ///< after serving, poll this long for more before sleeping (0: never)
    /// Under --sync batch, commits reach the disk at least this often.
    std::chrono::milliseconds sync_interval{100};
};

/// The daemon: named queues with System V behaviour, served over SEQPACKET to any number of
/// clients, single-threaded on one epoll. Move-only.
class server {
public:
    /// Binds every listen address (creating the directory of a unix:/path socket, mode 0755)
    /// and prepares the event loop. Errors: address_in_use if a live daemon has the path; the
    /// errno of mkdir/socket/bind/listen/chmod/epoll.
    /// With `state`, the queues are built from the state directory first, and kept in it;
    /// errors of loading it as persistence::load (EBADMSG: a damaged record).
    static result<server> open(const server_options& options,
                               std::optional<durable::state_store> state = std::nullopt);

    server(server&&) noexcept;
    server& operator=(server&&) noexcept;
    ~server();

    /// Serves until `stop_fd` (a signalfd, an eventfd) becomes readable.
    /// Errors: the errno of epoll_wait other than EINTR.
    result<void> run(int stop_fd);

    struct impl;

private:
    explicit server(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> impl_;
};

} // namespace seqmq::daemon
