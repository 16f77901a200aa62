// seqmqd's event loop: one epoll for the listeners and every client; each readable client's
// records are read in batches (recvmmsg) and handed to the session layer's frame checks, then
// to the request handlers. Clients cut during a turn are freed at its end, a bounded number a
// turn, so that no single event keeps the loop from the others for long.
#include "daemon/server.hpp"

#include "daemon/requests.hpp"
#include "daemon/session.hpp"
#include "log.hpp"
#include "sys/syscall.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <malloc.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace seqmq::daemon {

using namespace seqmq::detail;
namespace proto = seqmq::detail::proto;

namespace {

constexpr std::uint64_t stop_tag = 1;
constexpr std::uint64_t first_listener_tag = 2; // listener i: 2 + i; clients: their address
constexpr int batch_records = 64;               // records read from one client per wakeup
constexpr std::size_t read_slots_max = 16;      // records taken by one recvmmsg, at most
constexpr std::size_t read_bytes_max = 1 << 20; // ... and their buffers' total size
constexpr std::size_t freed_per_turn = 16;      // departed clients freed per turn, at most
constexpr std::size_t trim_after = 8u << 20;    // memory freed before it goes back to the system

} // namespace

struct server::impl {
    server_options options;
    struct bound_at {
        address where;
        const transport* via;
        bound_file file;
    };
    std::vector<bound_at> listen_at;
    std::vector<unique_fd> listeners;
    unique_fd poller;
    session_table sessions;
    requests serving;
    std::unique_ptr<persistence> durable; // the state directory, if any
    // Records are read by recvmmsg into `slots` buffers of `slot_size` bytes, each room for the
    // largest request and one byte more (to see one longer). One call takes every record
    // waiting, up to the slots, and a short count tells the socket is empty: no EAGAIN read.
    std::size_t slot_size;
    std::size_t slots;
    std::vector<std::byte> in;
    std::vector<iovec> in_iov;
    std::vector<mmsghdr> in_msgs;
    std::vector<credentials_control> in_control; // each record's SCM_CREDENTIALS, a slot each
    std::size_t memory_high = 0; // memory in use at the last trim, or since, at most
    unique_fd spare{::open("/dev/null", O_RDONLY | O_CLOEXEC)}; // see accept_all()
    log_limiter accept_lines{20};

    impl(const server_options& o, unique_fd epoll)
        : options(o), poller(std::move(epoll)),
          sessions({o.max_clients, o.max_output, o.max_output_total}, poller.get()),
          serving(options, sessions, poller.get()),
          slot_size(frame_header::size + serving.max_request() + 1),
          slots(std::clamp<std::size_t>(read_bytes_max / slot_size, 1, read_slots_max)),
          in(slot_size * slots), in_iov(slots), in_msgs(slots), in_control(slots) {
        for (std::size_t i = 0; i < slots; ++i) {
            in_iov[i] = {in.data() + i * slot_size, slot_size};
            in_msgs[i] = {};
            in_msgs[i].msg_hdr.msg_iov = &in_iov[i];
            in_msgs[i].msg_hdr.msg_iovlen = 1;
        }
    }

    ~impl() {
        listeners.clear();
        for (auto& [where, via, file] : listen_at)
            via->unbind(where, file);
    }

    void accept_all(int listener, const transport* via) {
        for (;;) {
            auto fd = accept_connection(listener);
            if (!fd && (fd.error() == std::errc::too_many_files_open ||
                        fd.error() == std::errc::too_many_files_open_in_system)) {
                // Out of descriptors: a pending connection would stay pending and the listener
                // readable, so the loop would spin. The spare descriptor makes room to take it
                // and tell it why before closing it. (EMFILE comes before the kernel looks for
                // a connection: there may be none.)
                spare.reset();
                auto taken = accept_connection(listener);
                if (taken) {
                    std::uint64_t left_out = 0;
                    if (accept_lines.allow(left_out))
                        log().warn("refused a connection: accept: {}{}", fd.error().message(),
                                   lines_left_out(left_out));
                    sessions.refuse(taken->get(), EMFILE);
                    via->close_connection(std::move(*taken));
                }
                spare.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
                if (!taken)
                    return;
                continue;
            }
            if (!fd) {
                if (fd.error() != std::errc::resource_unavailable_try_again)
                    log().warn("accept: {}", fd.error().message());
                return;
            }
            sessions.add(std::move(*fd), via);
        }
    }

    // Reads and serves up to a batch of c's records.
    void on_readable(session& c) {
        for (int budget = batch_records; budget > 0 && !c.dead;) {
            const unsigned want = unsigned(std::min<std::size_t>(slots, std::size_t(budget)));
            auto take = [&] {
                for (unsigned i = 0; i < want; ++i) // recvmmsg shortens each to what came
                    in_control[i].prepare(in_msgs[i].msg_hdr);
                return retry_eintr([&] {
                    return ::recvmmsg(c.fd.get(), in_msgs.data(), want, MSG_TRUNC | MSG_DONTWAIT,
                                      nullptr);
                });
            };
            int n = take();
            // AF_UNIX reports a peer that closed with unread data of its own as one ECONNRESET
            // ahead of the records still queued: read on.
            if (n < 0 && errno == ECONNRESET)
                n = take();
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    sessions.free_client_later(c);
                break;
            }
            if (n == 0) {
                sessions.free_client_later(c);
                break;
            }
            budget -= n;
            for (std::size_t i = 0; i < std::size_t(n) && !c.dead; ++i) {
                const auto& m = in_msgs[i];
                const std::size_t length = std::min<std::size_t>(m.msg_len, slot_size);
                const bool longer = (m.msg_hdr.msg_flags & MSG_TRUNC) || m.msg_len >= slot_size;
                const std::span<const std::byte> record(in.data() + i * slot_size, length);
                auto h = sessions.check(c, record, longer, serving.max_request(),
                                        options.max_message_size);
                if (h && (!proto::carries_identity(h->kind, h->type) ||
                          sessions.identify(c, credentials_in(m.msg_hdr))))
                    serving.serve(c, *h, record.subspan(frame_header::size, h->length));
            }
            if (unsigned(n) < want) // the socket is empty (or has an error for the next call)
                break;
        }
        serving.end_of_turn(c);
    }

    // Frees departed clients, a bounded number; true if some are left for the next turn.
    bool free_departed() {
        const bool more = sessions.sweep(freed_per_turn, [&](session& c) { serving.forget(c); });
        // Give memory back to the system once queues have shrunk by a good amount.
        const std::size_t used = serving.memory_used();
        memory_high = std::max(memory_high, used);
        if (memory_high - used > trim_after) {
            ::malloc_trim(0);
            memory_high = used;
        }
        return more;
    }

    result<void> run(int stop_fd) {
        epoll_event stop{EPOLLIN, {.u64 = stop_tag}};
        if (::epoll_ctl(poller.get(), EPOLL_CTL_ADD, stop_fd, &stop) < 0)
            return std::unexpected(last_error());
        std::array<epoll_event, 128> events;
        const auto spin = std::chrono::microseconds(options.spin_us);
        bool served = false; // the last wait found work: spin before the next sleep
        bool more_to_free = false;
        for (;;) {
            int n = 0;
            if (served && spin.count() > 0) {
                // Busy-poll for a bounded time: work arriving meanwhile is served without a
                // sleeping wake-up (opt-in, --spin-us: it costs a core while it spins). Each turn
                // yields, so a client on this same CPU still runs.
                const auto until = std::chrono::steady_clock::now() + spin;
                for (;;) {
                    n = ::epoll_wait(poller.get(), events.data(), int(events.size()), 0);
                    if (n != 0 || std::chrono::steady_clock::now() >= until)
                        break;
                    ::sched_yield();
                }
            }
            if (n == 0)
                n = ::epoll_wait(poller.get(), events.data(), int(events.size()),
                                 more_to_free ? 0
                                 : durable    ? durable->sync_due_in_ms()
                                              : -1);
            if (durable)
                sessions.hold_replies(); // until the turn is committed
            served = n > 0;
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return std::unexpected(last_error());
            }
            for (int i = 0; i < n; ++i) {
                const std::uint64_t tag = events[i].data.u64;
                if (tag == stop_tag) {
                    log().info("stopping: {} queues, {} clients", serving.queues(),
                               sessions.size());
                    if (durable) {
                        durable->end_turn();
                        durable->sync_now();
                    }
                    return {};
                }
                if (tag >= first_listener_tag && tag < first_listener_tag + listeners.size()) {
                    std::size_t k = tag - first_listener_tag;
                    accept_all(listeners[k].get(), listen_at[k].via);
                    continue;
                }
                if (tag & requests::delivery_tag) {
                    serving.on_writable(tag);
                    continue;
                }
                auto* c = reinterpret_cast<session*>(tag);
                if (c->dead)
                    continue;
                if (events[i].events & EPOLLOUT)
                    sessions.flush(*c);
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_readable(*c);
            }
            more_to_free = free_departed();
            serving.feed_all();
            if (durable) {
                // Group commit: everything this turn changed in one transaction (synced under
                // --sync always), and only then the turn's replies.
                durable->end_turn();
                sessions.release_held();
                durable->sync_if_due();
            }
        }
    }
};

server::server(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
server::server(server&&) noexcept = default;
server& server::operator=(server&&) noexcept = default;
server::~server() = default;

result<server> server::open(const server_options& options,
                            std::optional<durable::state_store> state) {
    if (options.listen.empty() || options.max_message_size == 0 || options.default_capacity == 0 ||
        options.max_clients == 0 || options.max_queues == 0 || options.max_unacked == 0)
        return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    unique_fd poller(::epoll_create1(EPOLL_CLOEXEC));
    if (!poller)
        return std::unexpected(last_error());
    auto s = std::make_unique<impl>(options, std::move(poller));
    if (state) {
        s->durable = std::make_unique<persistence>(std::move(*state), options.sync_interval);
        if (auto loaded = s->serving.keep_in(*s->durable); !loaded)
            return std::unexpected(loaded.error());
    }
    for (const address& given : options.listen) {
        const address where = given.resolve();
        auto via = transport_for(where);
        if (!via)
            return std::unexpected(via.error());
        if (options.max_message_size + 64 > (*via)->max_payload())
            return std::unexpected(std::make_error_code(std::errc::invalid_argument));
        if (where.family() == address_family::unix_path) {
            std::error_code ec;
            auto dir = std::filesystem::path(where.name()).parent_path();
            if (std::filesystem::create_directories(dir, ec))
                ::chmod(dir.c_str(), 0755);
            if (ec)
                return std::unexpected(ec);
        }
        auto bound = (*via)->listen(where, 128, true);
        if (!bound)
            return std::unexpected(bound.error());
        auto* fd = &bound->fd;
        if (where.family() == address_family::unix_path &&
            ::chmod(where.name().c_str(), options.socket_mode) < 0)
            return std::unexpected(last_error());
        epoll_event ev{EPOLLIN, {.u64 = first_listener_tag + s->listeners.size()}};
        if (::epoll_ctl(s->poller.get(), EPOLL_CTL_ADD, fd->get(), &ev) < 0)
            return std::unexpected(last_error());
        s->listeners.push_back(std::move(*fd));
        s->listen_at.push_back({where, *via, bound->file});
        log().info("listening on {}", where.to_string());
    }
    return server(std::move(s));
}

result<void> server::run(int stop_fd) {
    return impl_->run(stop_fd);
}

} // namespace seqmq::daemon
