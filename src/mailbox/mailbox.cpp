#include <seqmq/mailbox.hpp>

#include "access/permissions.hpp"
#include "log.hpp"
#include "store/message_store.hpp"
#include "store/owned_copy.hpp"
#include "store/sysv_rules.hpp"
#include "sys/aligned_buffer.hpp"
#include "transport/transport.hpp"
#include "wire/frame.hpp"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace seqmq {

using namespace detail;

namespace {

// epoll user data for the listener; connections use their address, never 1.
constexpr std::uint64_t listener_tag = 1;

std::unexpected<std::error_code> fail(std::errc e) {
    return std::unexpected(std::make_error_code(e));
}

struct connection {
    unique_fd fd;
    peer_identity peer;
    std::uint64_t next_sequence = 1;
    bool ready = false;  // in the ready list: may have records to read
    bool parked = false; // out of epoll: its next record does not fit the stash
    bool direct = false; // blocking, with SO_RCVTIMEO = direct_wait: see read_direct()
};

// A receive that takes a message: what it could be handed without stashing.
struct taker {
    selector which;
    std::size_t buffer;
    bool noerror;

    // The record is the one this receive wants (it may still be too long for the buffer).
    bool wants(long type) const noexcept { return which.type >= 0 && which.admits(type); }
    // ... and can be handed over without ever being stashed.
    bool takes(long type, std::size_t size) const noexcept {
        return wants(type) && sysv::take_rule(size, buffer, noerror) != sysv::take_outcome::too_big;
    }
};

// A record just read from a connection, still in the mailbox's read buffer.
struct record {
    long type;
    std::span<const std::byte> payload;
    pid_t sender;
};

} // namespace

struct mailbox::impl {
    address where;
    const transport* via = nullptr;
    mailbox_options options;
    unique_fd listener;
    bound_file listener_file; // what unbind() may remove
    unique_fd poller;
    // Created on the first native_handle(): an epoll over `poller` and an eventfd that is
    // readable while the stash holds messages.
    unique_fd outer;
    unique_fd wake;
    bool wake_set = false;

    message_store stash;
    aligned_buffer buffer;            // one record, page-aligned: header + max payload + 1
    std::vector<record> incoming;     // the messages of the record just read
    std::vector<batch_entry> entries; // scratch for splitting a batch
    std::vector<std::unique_ptr<connection>> connections;
    std::vector<connection*> ready;
    std::vector<connection*> parked;
    std::size_t next_ready = 0;
    bool accept_pending = true; // connections may have queued before the first look
    // When epoll was last asked (coarse_monotonic): direct waits in a row never go longer than
    // direct_wait, rounded up to a tick, without asking it again (a busy sender would otherwise
    // hide every other socket).
    std::chrono::nanoseconds looked_at{};
    bool room_freed = false;
    bool received_any = false;
    std::uint64_t next_arrival = 1;
    mailbox_stat counters;
    ipc_perm perm; // who may send: mailbox_options::mode, resolved
    // Refusals are logged at most this often, so a flood of them cannot fill the log.
    std::chrono::nanoseconds warned_at{};
    std::uint64_t unwarned = 0;

    impl(const address& a, const transport* t, const mailbox_options& o)
        : where(a), via(t), options(o), stash(o.max_message_size),
          buffer(frame_header::size + o.max_message_size + 1) {
        // A batch holds at most one entry per entry header's worth of bytes.
        const std::size_t most = o.max_message_size / batch_entry::header_size + 1;
        incoming.reserve(most);
        entries.reserve(most);
    }

    ~impl() {
        for (auto& c : connections)
            via->close_connection(std::move(c->fd));
        listener.reset();
        via->unbind(where, listener_file);
    }

    // --- connections -------------------------------------------------------------------------

    void accept_all() {
        accept_pending = false;
        for (;;) {
            auto fd = accept_connection(listener.get());
            if (!fd) {
                if (fd.error() != std::errc::resource_unavailable_try_again)
                    log().warn("mailbox {}: accept: {}", where.to_string(), fd.error().message());
                return;
            }
            const peer_identity peer = via->peer(fd->get());
            if (!permitted(credentials_of(fd->get(), peer.has_credentials, peer.uid, peer.gid),
                           perm, write_access)) {
                ++counters.refused_access;
                refuse(std::move(*fd), peer, EACCES, "lacks write permission");
                continue;
            }
            if (connections.size() >= options.max_connections) {
                ++counters.refused_limit;
                refuse(std::move(*fd), peer, EUSERS, "connections is the limit");
                continue;
            }
            auto c = std::make_unique<connection>();
            c->fd = std::move(*fd);
            c->peer = peer;
            epoll_event ev{EPOLLIN, {.u64 = reinterpret_cast<std::uintptr_t>(c.get())}};
            if (::epoll_ctl(poller.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) < 0) {
                log().warn("mailbox {}: epoll_ctl: {}", where.to_string(), last_error().message());
                via->close_connection(std::move(c->fd));
                continue;
            }
            notify(c->fd.get(),
                   {mailbox_control::hello, options.max_message_size, options.capacity});
            mark_ready(*c); // records may already wait
            connections.push_back(std::move(c));
        }
    }

    // Tells a connection why it is refused (EUSERS, EACCES) and closes it; what it sent is
    // discarded. Logged at most once a second, with the count of those left out.
    void refuse(unique_fd fd, const peer_identity& peer, int reason, const char* why) {
        notify(fd.get(),
               {mailbox_control::closing, std::uint64_t(reason), options.max_message_size});
        via->close_connection(std::move(fd));
        const auto now = coarse_monotonic();
        if (warned_at.count() != 0 && now - warned_at < std::chrono::seconds(1)) {
            ++unwarned;
            return;
        }
        warned_at = now;
        const std::string who = peer.has_credentials ? "pid " + std::to_string(peer.pid) + " uid " +
                                                           std::to_string(peer.uid)
                                                     : std::string("a peer without credentials");
        if (reason == EUSERS)
            log().warn("mailbox {}: refused {}: {} {} (max_connections){}", where.to_string(), who,
                       options.max_connections, why, left_out());
        else
            log().warn("mailbox {}: refused {}: it {} (mode {:04o}, owner uid {} gid {}){}",
                       where.to_string(), who, why, perm.mode, perm.uid, perm.gid, left_out());
    }

    std::string left_out() {
        if (unwarned == 0)
            return {};
        return "; " + std::to_string(std::exchange(unwarned, 0)) + " more refused since";
    }

    // Best effort: a sender that cannot take a notice finds out from the closed socket.
    void notify(int fd, const mailbox_notice& n) noexcept {
        std::array<std::byte, mailbox_notice::size> out;
        encode(n, out);
        (void)retry_eintr(
            [&] { return ::send(fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL); });
    }

    void mark_ready(connection& c) {
        if (!c.ready && !c.parked) {
            c.ready = true;
            ready.push_back(&c);
        }
    }

    void unready(connection& c) {
        c.ready = false;
        ready.erase(std::find(ready.begin(), ready.end(), &c));
    }

    void drop(connection& c, std::optional<frame_fault> fault) {
        if (fault) {
            ++counters.protocol_errors;
            log().warn("mailbox {}: cut the connection from pid {}: {}", where.to_string(),
                       c.peer.pid, to_string(*fault));
            auto reason = *fault == frame_fault::too_long ? EMSGSIZE : EPROTO;
            notify(c.fd.get(),
                   {mailbox_control::closing, std::uint64_t(reason), options.max_message_size});
        }
        if (c.ready)
            unready(c);
        if (c.parked)
            parked.erase(std::find(parked.begin(), parked.end(), &c));
        else
            ::epoll_ctl(poller.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        via->close_connection(std::move(c.fd));
        std::erase_if(connections, [&](const auto& p) { return p.get() == &c; });
    }

    // The stash cannot hold c's next record: stop reading c, so its sender feels back-pressure
    // through its socket buffer, until a message leaves the stash.
    void park(connection& c) {
        if (c.ready)
            unready(c);
        // Out of epoll altogether: even with no events asked, EPOLLHUP would keep firing.
        ::epoll_ctl(poller.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        c.parked = true;
        parked.push_back(&c);
    }

    void unpark_all() {
        room_freed = false;
        for (connection* c : parked) {
            epoll_event ev{EPOLLIN, {.u64 = reinterpret_cast<std::uintptr_t>(c)}};
            ::epoll_ctl(poller.get(), EPOLL_CTL_ADD, c->fd.get(), &ev);
            c->parked = false;
            mark_ready(*c);
        }
        parked.clear();
    }

    // Collects readiness from epoll. Returns the number of events, or an error.
    result<int> poll_events(int ms) {
        std::array<epoll_event, 64> events;
        int n = ::epoll_wait(poller.get(), events.data(), int(events.size()), ms);
        if (options.direct_wait.count() > 0)
            looked_at = coarse_monotonic();
        if (n < 0)
            return std::unexpected(last_error()); // EINTR included: a signal ends a wait
        for (int i = 0; i < n; ++i) {
            if (events[i].data.u64 == listener_tag)
                accept_pending = true;
            else
                mark_ready(*reinterpret_cast<connection*>(events[i].data.u64));
        }
        return n;
    }

    // --- reading records -----------------------------------------------------------------------

    enum class outcome { got, empty, gone, parked };

    // Bytes the stash can still take (never wraps: the stash is at most full).
    std::size_t room_left() const noexcept {
        return options.capacity > stash.bytes() ? options.capacity - stash.bytes() : 0;
    }

    // Reads c's next record into `buffer` if the stash could hold it, or `want` takes it, and
    // lists its messages (one, or a batch's) in `incoming`, in order.
    outcome read_one(connection& c, const taker* want) {
        const std::size_t room = room_left();
        if (room < options.max_message_size) {
            // Peek before taking: the record must stay in the socket if nowhere can hold it.
            const auto peek = [&] {
                return retry_eintr([&] {
                    return ::recv(c.fd.get(), buffer.data(), buffer.size(),
                                  MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
                });
            };
            ssize_t n = peek();
            // A sender that closed with a notice of ours unread answers one ECONNRESET ahead of
            // its records (as in took()): peek again, or the record would be read unchecked.
            if (n < 0 && errno == ECONNRESET)
                n = peek();
            if (n > 0 && std::size_t(n) >= frame_header::size &&
                std::size_t(n) - frame_header::size > room) {
                // Only a single message can be handed over without a place in the stash.
                auto h = decode_prefix(std::span(buffer.data(), frame_header::size));
                if (h && !(h->kind == frame_kind::data && want &&
                           want->takes(h->type, std::size_t(n) - frame_header::size))) {
                    park(c);
                    return outcome::parked;
                }
            }
        }
        return took(c, recv_now(c));
    }

    // Reads c's next record into `buffer` without waiting: its true length, or -1 and errno.
    ssize_t recv_now(connection& c) {
        return retry_eintr([&] {
            return ::recv(c.fd.get(), buffer.data(), buffer.size(), MSG_TRUNC | MSG_DONTWAIT);
        });
    }

    // Classifies what a recv of c into `buffer` returned (n bytes, or -1 and errno) and, for a
    // record, lists its messages in `incoming`.
    outcome took(connection& c, ssize_t n) {
        // AF_UNIX reports a peer that closed with unread data of its own as one ECONNRESET,
        // ahead of the records still queued here: they are not lost, read on.
        if (n < 0 && errno == ECONNRESET)
            n = recv_now(c);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c.ready)
                    unready(c);
                return outcome::empty;
            }
            log().debug("mailbox {}: recv: {}", where.to_string(), last_error().message());
            drop(c, std::nullopt);
            return outcome::gone;
        }
        if (n == 0) { // end of stream: every record before it has been read
            drop(c, std::nullopt);
            return outcome::gone;
        }
        auto h =
            std::size_t(n) > buffer.size()
                ? std::expected<frame_header, frame_fault>(std::unexpected(frame_fault::too_long))
                : decode(std::span(buffer.data(), std::size_t(n)), options.max_message_size);
        std::optional<frame_fault> fault;
        if (!h)
            fault = h.error();
        else if (h->kind != frame_kind::data && h->kind != frame_kind::data_batch)
            fault = frame_fault::unexpected_kind;
        else if (h->sequence != c.next_sequence)
            fault = frame_fault::bad_sequence;
        const auto payload =
            std::span<const std::byte>(buffer.data() + frame_header::size, h ? h->length : 0);
        incoming.clear();
        if (!fault && h->kind == frame_kind::data_batch) {
            if (auto split =
                    split_batch(payload, std::uint64_t(h->type), options.max_message_size, entries);
                !split)
                fault = split.error();
            for (const batch_entry& e : entries)
                incoming.push_back({e.type, e.payload, c.peer.pid});
        } else if (!fault) {
            incoming.push_back({static_cast<long>(h->type), payload, c.peer.pid});
        }
        if (fault) {
            drop(c, fault);
            return outcome::gone;
        }
        c.next_sequence += incoming.size();
        counters.last_send_pid = c.peer.pid;
        counters.last_send_time = coarse_now();
        return outcome::got;
    }

    // The opt-in spin before sleeping: polls epoll without blocking for up to options.spin.
    // Each turn yields the CPU: when the sender runs on this same CPU, a spin that kept the CPU
    // would only delay the message it waits for (measured: 110 µs round trips with a 50 µs
    // spin instead of 5.6 µs without). Returns true when something became ready.
    bool spin_for_events() {
        const auto stop = std::chrono::steady_clock::now() + options.spin;
        do {
            auto n = poll_events(0);
            if (!n || *n > 0)
                return n.has_value();
            ::sched_yield();
        } while (std::chrono::steady_clock::now() < stop);
        return false;
    }

    void stash_record(const record& r) { stash.push(r.type, r.payload, r.sender, next_arrival++); }

    // The fast path of a waiting receive: with one sender connected and nothing else to do,
    // block in recv() on its socket for up to direct_wait — one system call, as a raw socket
    // receiver makes, where waiting on all sockets takes two (epoll_wait, recv). Returns the
    // connection if a record came (its messages in `incoming`), nullptr if the path does not
    // apply or nothing came in time. Errors: interrupted.
    result<connection*> read_direct(const deadline& until) {
        using std::chrono::microseconds;
        if (options.direct_wait.count() <= 0 || options.spin.count() > 0 ||
            connections.size() != 1 || !ready.empty() || accept_pending || !parked.empty() ||
            room_left() < options.max_message_size || !until.leaves(options.direct_wait))
            return nullptr;
        // A sender that never pauses keeps recv() below from ever timing out: look at every
        // socket (without waiting) once per direct_wait, so a new connection or another
        // socket is noticed at most direct_wait (plus one kernel tick) late all the same.
        if (coarse_monotonic() - looked_at >= options.direct_wait) {
            auto n = poll_events(0);
            if (!n)
                return std::unexpected(n.error());
            if (!ready.empty() || accept_pending)
                return nullptr; // the caller attends to them first
        }
        connection& c = *connections.front();
        if (!c.direct) {
            // Every other read and send of the mailbox says MSG_DONTWAIT: only recv() here
            // blocks, and for no longer than the receive timeout.
            const timeval tv{time_t(options.direct_wait.count() / 1000000),
                             suseconds_t(options.direct_wait.count() % 1000000)};
            const int flags = ::fcntl(c.fd.get(), F_GETFL);
            if (flags < 0 || ::fcntl(c.fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0 ||
                ::setsockopt(c.fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
                options.direct_wait = microseconds(0); // not this mailbox, then
                return nullptr;
            }
            c.direct = true;
        }
        const ssize_t n = ::recv(c.fd.get(), buffer.data(), buffer.size(), MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            return std::unexpected(last_error()); // a signal ends a wait, as in epoll_wait
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return nullptr; // quiet for direct_wait: wait on everything
        return took(c, n) == outcome::got ? &c : nullptr;
    }

    // Hands the first message of `incoming` (read from c) that `want` wants to the caller and
    // stashes the others, in arrival order; a wanted one too long for the buffer is stashed in
    // its place too. Returns what pump() returns, or nothing to read on.
    std::optional<result<std::optional<record>>> deliver(connection& c, const taker* want) {
        const record* hit = nullptr;
        bool too_long = false;
        for (const record& r : incoming) {
            if (!hit && !too_long && want && want->wants(r.type)) {
                if (want->takes(r.type, r.payload.size())) {
                    hit = &r;
                    continue;
                }
                too_long = true;
            }
            stash_record(r);
        }
        if (too_long)
            return fail(std::errc::argument_list_too_long);
        if (!hit)
            return std::nullopt;
        // Whether c has more is unknown: ask epoll next time rather than probe with a recv
        // that, in a request-reply exchange, would only say EAGAIN.
        if (c.ready)
            unready(c);
        return std::optional(*hit);
    }

    // Reads records from the connections, stashing each one `want` does not want, until one is
    // wanted (returned, still in `buffer`) or nothing is left to read. With `until`, waits for
    // records up to the deadline; without, never waits.
    result<std::optional<record>> pump(const taker* want, const deadline* until) {
        for (;;) {
            if (room_freed && !parked.empty())
                unpark_all();
            if (accept_pending)
                accept_all();
            while (!ready.empty()) {
                connection& c = *ready[next_ready++ % ready.size()];
                if (read_one(c, want) != outcome::got)
                    continue;
                if (auto done = deliver(c, want))
                    return *done;
            }
            if (until && options.spin.count() > 0 && spin_for_events())
                continue;
            if (until) {
                auto direct = read_direct(*until);
                if (!direct)
                    return std::unexpected(direct.error());
                if (*direct) {
                    if (auto done = deliver(**direct, want))
                        return *done;
                    continue;
                }
                if (!ready.empty() || accept_pending)
                    continue; // its look at epoll found work
            }
            auto n = poll_events(until ? until->poll_ms() : 0);
            if (!n)
                return std::unexpected(n.error());
            if (*n == 0) {
                if (!until)
                    return std::optional<record>();
                if (until->passed())
                    return fail(std::errc::timed_out);
            }
        }
    }

    // Reads everything the senders have sent, as far as the stash has room.
    result<void> drain() {
        auto r = pump(nullptr, nullptr);
        if (!r)
            return std::unexpected(r.error());
        return {};
    }

    // --- taking --------------------------------------------------------------------------------

    void taken() {
        received_any = true; // last_receive_pid is this process: stat() asks, not each receive
        counters.last_receive_time = coarse_now();
    }

    result<received> take_stashed(const queued_message& m, std::span<std::byte> out, bool noerror) {
        if (sysv::take_rule(m.size, out.size(), noerror) == sysv::take_outcome::too_big)
            return fail(std::errc::argument_list_too_long);
        received got{m.type, sysv::copied_size(m.size, out.size()), m.size, m.sender_pid};
        if (got.size)
            std::memcpy(out.data(), m.data(), got.size);
        stash.pop(m);
        room_freed = true;
        taken();
        return got;
    }

    result<received> take_direct(const record& r, std::span<std::byte> out) {
        received got{r.type, sysv::copied_size(r.payload.size(), out.size()), r.payload.size(),
                     r.sender};
        if (got.size)
            std::memcpy(out.data(), r.payload.data(), got.size);
        taken();
        return got;
    }

    result<received> receive(std::span<std::byte> out, selector which, receive_flags flags,
                             timeout limit) {
        const bool nowait = flags & receive_flags::nowait;
        const bool noerror = flags & receive_flags::noerror;
        const deadline until(limit);
        if (which.type < 0) {
            // "Lowest type" looks at every message that has arrived, so read them all first.
            for (;;) {
                if (auto d = drain(); !d)
                    return std::unexpected(d.error());
                if (const queued_message* m = stash.find(which))
                    return take_stashed(*m, out, noerror);
                if (nowait)
                    return fail(std::errc::no_message);
                auto n = poll_events(until.poll_ms());
                if (!n)
                    return std::unexpected(n.error());
                if (*n == 0 && until.passed())
                    return fail(std::errc::timed_out);
            }
        }
        if (const queued_message* m = stash.find(which))
            return take_stashed(*m, out, noerror);
        const taker want{which, out.size(), noerror};
        auto r = pump(&want, nowait ? nullptr : &until);
        if (!r)
            return std::unexpected(r.error());
        if (!*r)
            return fail(std::errc::no_message);
        return take_direct(**r, out);
    }

    message copy_of(const queued_message& m) const {
        message c{m.type, {}, m.sender_pid, m.arrival};
        c.data.assign(m.data(), m.data() + m.size);
        return c;
    }

    // Keeps the eventfd of native_handle() readable exactly while the stash holds messages.
    void sync_wake() noexcept {
        if (!wake || wake_set == !stash.empty())
            return;
        std::uint64_t v = 1;
        if (!wake_set)
            (void)!::write(wake.get(), &v, sizeof v);
        else
            (void)!::read(wake.get(), &v, sizeof v);
        wake_set = !wake_set;
    }
};

// --- mailbox ---------------------------------------------------------------------------------

mailbox::mailbox(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
mailbox::mailbox(mailbox&&) noexcept = default;
mailbox& mailbox::operator=(mailbox&&) noexcept = default;
mailbox::~mailbox() = default;

result<mailbox> mailbox::open(const address& where_given, const mailbox_options& options) {
    const address where = where_given.resolve();
    auto via = transport_for(where);
    if (!via)
        return std::unexpected(via.error());
    if (options.max_message_size == 0 || options.max_message_size > (*via)->max_payload() ||
        options.capacity < options.max_message_size || options.max_connections == 0 ||
        (options.mode && *options.mode > 0777))
        return fail(std::errc::invalid_argument);

    auto listener = (*via)->listen(where, options.backlog, options.replace_stale);
    if (!listener)
        return std::unexpected(listener.error());
    auto p = std::make_unique<impl>(where, *via, options);
    p->listener = std::move(listener->fd);
    p->listener_file = listener->file;
    p->poller.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!p->poller)
        return std::unexpected(last_error());
    epoll_event ev{EPOLLIN, {.u64 = listener_tag}};
    if (::epoll_ctl(p->poller.get(), EPOLL_CTL_ADD, p->listener.get(), &ev) < 0)
        return std::unexpected(last_error());
    const bool abstract = where.family() == address_family::unix_abstract;
    p->perm.uid = p->perm.cuid = options.owner_uid.value_or(::geteuid());
    p->perm.gid = p->perm.cgid = options.owner_gid.value_or(::getegid());
    p->perm.mode = options.mode.value_or(abstract ? 0600 : 0666) & 0777;
    p->counters.mode = p->perm.mode;
    p->counters.owner_uid = p->perm.uid;
    p->counters.owner_gid = p->perm.gid;
    p->counters.capacity = options.capacity;
    p->counters.max_message_size = options.max_message_size;
    p->counters.change_time = std::chrono::system_clock::now();
    log().debug("mailbox {} open over {}", where.to_string(), (*via)->name());
    return mailbox(std::move(p));
}

result<received> mailbox::receive(std::span<std::byte> buffer, selector which, receive_flags flags,
                                  timeout limit) {
    auto r = impl_->receive(buffer, which, flags, limit);
    impl_->sync_wake();
    return r;
}

result<message> mailbox::receive(selector which, receive_flags flags, timeout limit) {
    return receive_owned(impl_->options.max_message_size,
                         [&](std::span<std::byte> buffer, message&) {
                             return receive(buffer, which, flags, limit);
                         });
}

result<message> mailbox::peek(selector which) {
    if (auto d = impl_->drain(); !d)
        return std::unexpected(d.error());
    impl_->sync_wake();
    const queued_message* m = impl_->stash.find(which);
    if (!m)
        return fail(std::errc::no_message);
    return impl_->copy_of(*m);
}

result<message> mailbox::peek_at(std::size_t position) {
    if (auto d = impl_->drain(); !d)
        return std::unexpected(d.error());
    impl_->sync_wake();
    const queued_message* m = impl_->stash.at(position);
    if (!m)
        return fail(std::errc::no_message);
    return impl_->copy_of(*m);
}

result<std::vector<message_info>> mailbox::list() {
    if (auto d = impl_->drain(); !d)
        return std::unexpected(d.error());
    impl_->sync_wake();
    std::vector<message_info> all;
    all.reserve(impl_->stash.count());
    for (const queued_message* m = impl_->stash.oldest(); m; m = impl_->stash.after(m))
        all.push_back({m->type, m->size, m->arrival, m->sender_pid});
    return all;
}

result<mailbox_stat> mailbox::stat() {
    if (auto d = impl_->drain(); !d)
        return std::unexpected(d.error());
    impl_->sync_wake();
    mailbox_stat s = impl_->counters;
    s.last_receive_pid = impl_->received_any ? ::getpid() : 0;
    s.count = impl_->stash.count();
    s.bytes = impl_->stash.bytes();
    s.connections = impl_->connections.size();
    return s;
}

int mailbox::native_handle() const noexcept {
    impl& m = *impl_;
    if (!m.outer) {
        unique_fd outer(::epoll_create1(EPOLL_CLOEXEC));
        unique_fd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!outer || !wake)
            return -1;
        epoll_event a{EPOLLIN, {.u64 = 0}}, b{EPOLLIN, {.u64 = 1}};
        if (::epoll_ctl(outer.get(), EPOLL_CTL_ADD, m.poller.get(), &a) < 0 ||
            ::epoll_ctl(outer.get(), EPOLL_CTL_ADD, wake.get(), &b) < 0)
            return -1;
        m.outer = std::move(outer);
        m.wake = std::move(wake);
        m.wake_set = false;
        m.sync_wake();
    }
    return m.outer.get();
}

const address& mailbox::bound_address() const noexcept {
    return impl_->where;
}

} // namespace seqmq
