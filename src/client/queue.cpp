// The client of seqmqd: one SEQPACKET connection per queue handle.
#include <seqmq/queue.hpp>

#include "access/caller_credentials.hpp"
#include "log.hpp"
#include "store/owned_copy.hpp"
#include "store/sysv_rules.hpp"
#include "transport/transport.hpp"
#include "wire/daemon_protocol.hpp"
#include "wire/frame.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <thread>

namespace seqmq {

using namespace detail;
namespace p = detail::proto;
namespace sysv = detail::sysv;

namespace {

std::unexpected<std::error_code> fail(std::errc e) {
    return std::unexpected(std::make_error_code(e));
}
std::unexpected<std::error_code> fail_errno(int e) {
    return std::unexpected(std::error_code(e, std::system_category()));
}

std::chrono::system_clock::time_point from_ns(std::int64_t ns) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(ns)));
}

queue_stat to_stat(const p::stat_body& s) {
    queue_stat q;
    q.id = s.id;
    q.name = s.name;
    q.mode = s.mode;
    q.uid = s.uid;
    q.gid = s.gid;
    q.cuid = s.cuid;
    q.cgid = s.cgid;
    q.count = s.count;
    q.bytes = s.bytes;
    q.capacity = s.capacity;
    q.max_message_size = s.max_message_size;
    q.last_send_pid = s.last_send_pid;
    q.last_receive_pid = s.last_receive_pid;
    q.last_send_time = from_ns(s.send_time);
    q.last_receive_time = from_ns(s.receive_time);
    q.change_time = from_ns(s.change_time);
    q.waiting_receivers = s.waiting_receivers;
    q.waiting_senders = s.waiting_senders;
    return q;
}

// Room for the largest reply: a list part (60000 bytes plus one entry of up to 64 KiB).
constexpr std::size_t reply_buffer_size = 160 * 1024;

// A reply: its header, its result, and its body (valid until the next read).
struct reply {
    int error = 0;
    p::reader body{{}};
};

} // namespace

result<address> daemon_address() {
    if (const char* env = std::getenv("SEQMQ_DAEMON"); env && *env)
        return address::parse(env);
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg == '/')
        return address::unix_path(std::string(xdg) + "/seqmq/seqmqd.sock");
    return address::unix_path("/run/seqmq/seqmqd.sock");
}

struct queue::impl {
    address where;
    const transport* via;
    unique_fd fd;
    std::uint64_t next_sequence = 1;
    std::uint64_t id = 0;
    std::size_t max_message_size = 8192;
    std::size_t capacity = 0;
    // Credit: queue space the daemon set aside for this connection (see daemon_protocol.hpp).
    std::size_t credit_bytes = 0, credit_messages = 0;
    std::uint64_t zeroed_at = 0;
    bool removed = false;
    std::error_code cut_for;  // why the daemon closed the connection, once it said so
    bool unconfirmed = false; // sends on credit that no reply has followed yet
    bool established = false; // a record has gone through: ENOTCONN now means lost
    // This handle has sent a message. Until it does, the daemon sends it no grant and no revoke
    // (credit goes only to connections that send), so a receive need not drain notices first:
    // `removed` and `closing` reach it with the reply.
    bool ever_sent = false;
    std::chrono::microseconds spin{0}; // queue_options::spin
    // The queue's delivery socket (see daemon/delivery.hpp): a receive of the first message
    // (msgtyp 0) is one recv on it. `delivery_buffer`: the smallest buffer this handle told
    // the daemon it takes records with; `untold`: receives made there not yet reported.
    unique_fd delivery;
    bool delivery_refused = false; // the daemon cannot pass it (TIPC), or has none
    // Another handle holds it (one receiver at a time): ask again after this.
    std::chrono::steady_clock::time_point attach_again{};
    std::uint64_t delivery_buffer = 0;
    std::uint64_t untold = 0;
    std::uint64_t report_every = 64; // receives told in one `taken` (1: exact_sysv)
    std::uint32_t delivery_epoch = 0, delivery_next = 0; // the next record's, as one reader
    unique_fd passed; // a descriptor that came with the last record read
    // The ids every request carries (SCM_CREDENTIALS, on AF_UNIX; proto::carries_identity):
    // the effective uid and gid read at the start of each call, so that seqmqd checks each call
    // as the kernel would.
    // Sends on credit and the delivery socket were checked for the ids of an earlier call:
    // when the ids change, both go (see note_identity()).
    bool carries_ids = false;
    bool ids_read = false;
    caller_ids ids;
    std::vector<std::byte> in;
    std::vector<std::byte> out; // the record being written; reused, so sends do not allocate

    impl(address a, const transport* t, unique_fd f)
        : where(std::move(a)), via(t), fd(std::move(f)), carries_ids(t->carries_credentials()),
          in(reply_buffer_size) {
        out.reserve(frame_header::size + 64 + 8192);
    }

    // At the start of every call: reads the caller's effective ids (two system calls). If
    // they changed since the last call, unused credit goes back (the daemon checked it for
    // the old ids) and the delivery socket is dropped (handed over after a read check of the
    // old ids): this call goes through the daemon, which checks the new ones, as msgsnd and
    // msgrcv check each call.
    void note_identity() {
        if (!carries_ids)
            return;
        const caller_ids now = current_caller();
        if (ids_read && (now.uid != ids.uid || now.gid != ids.gid)) {
            report_taken();
            ids = now;
            // `release` with the new ids: seqmqd drops this connection's credit and delivery
            // socket there, and grants more only to ids that may write; a grant made before
            // (numbered below the release) was for the old ids, and is ignored.
            if (auto seq = request(p::opcode::release, {}))
                forget_checks_before(*seq);
        }
        ids = now;
        ids_read = true;
    }

    // The ids changed with record `seq`: credit granted before it, and the delivery socket,
    // were for the old ones.
    void forget_checks_before(std::uint64_t seq) {
        credit_bytes = credit_messages = 0;
        zeroed_at = seq;
        if (delivery) {
            delivery.reset();
            delivery_epoch = delivery_next = 0;
            attach_again = {};
        }
    }

    ~impl() {
        if (fd) {
            report_taken();
            (void)flush();
            via->close_connection(std::move(fd));
        }
    }

    // Waits until the daemon has taken in every send made on credit.
    result<void> flush() {
        if (!unconfirmed || !fd)
            return {};
        auto r = call(p::opcode::sync, {});
        if (!r)
            return std::unexpected(r.error());
        return {};
    }

    // Credit is for streams of sends: give it back before doing anything else, so that no
    // other sender waits for space this handle would not use.
    void give_back_credit() {
        if (credit_bytes == 0 && credit_messages == 0)
            return;
        if (auto seq = request(p::opcode::release, {})) {
            credit_bytes = credit_messages = 0;
            zeroed_at = *seq;
        }
    }

    std::error_code lost() const {
        return cut_for ? cut_for : std::make_error_code(std::errc::connection_reset);
    }

    // --- writing -----------------------------------------------------------------------------

    // Starts the next record in `out`, numbered with the next sequence; the caller appends the
    // body through the writer, then calls send_out().
    p::writer begin(frame_kind kind, std::int64_t type) {
        p::start_record(out, kind, type, next_sequence);
        return p::writer(out);
    }
    p::writer begin(p::opcode op) { return begin(frame_kind::control_request, std::int64_t(op)); }

    // Sends one record, numbering it. A record that could not be sent takes no number.
    // Returns its sequence. Errors: timed_out, interrupted (only if `interruptible`), or the
    // connection's loss.
    result<std::uint64_t> write(frame_kind kind, std::int64_t type, std::span<const std::byte> body,
                                const deadline& until, bool interruptible) {
        begin(kind, type).bytes(body);
        return send_out(until, interruptible);
    }

    // Sends the record begin() started in `out`.
    result<std::uint64_t> send_out(const deadline& until, bool interruptible) {
        const std::uint64_t seq = next_sequence;
        p::finish_record(out);
        if (!fd)
            return std::unexpected(lost());
        if (carries_ids && !ids_read)
            note_identity();
        const frame_header h = *decode_prefix(out);
        const bool identified = carries_ids && p::carries_identity(h.kind, h.type);
        const caller_ids before = ids;
        auto sent = send_record(fd.get(), out, established, until, false, interruptible,
                                identified ? &ids : nullptr);
        if (sent) {
            ++next_sequence;
            if (ids.uid != before.uid || ids.gid != before.gid) // changed meanwhile (a thread)
                forget_checks_before(seq);
            return seq;
        }
        if (sent.error() == std::errc::timed_out || sent.error() == std::errc::interrupted)
            return std::unexpected(sent.error());
        drain(); // the daemon may have said why before it closed
        return std::unexpected(lost());
    }

    result<std::uint64_t> request(p::opcode op, std::span<const std::byte> body) {
        return write(frame_kind::control_request, std::int64_t(op), body, deadline({}), false);
    }
    // Sends the request begin(op) started.
    result<std::uint64_t> request() { return send_out(deadline({}), false); }

    // --- reading -----------------------------------------------------------------------------

    void on_notice(p::opcode op, std::span<const std::byte> body) {
        switch (op) {
        case p::opcode::grant:
            if (auto g = p::decode_grant(body); g && g->upto >= zeroed_at && !removed) {
                credit_bytes += g->bytes;
                credit_messages += g->messages;
            }
            return;
        case p::opcode::revoke: {
            auto seq = request(p::opcode::release, {});
            if (seq) {
                credit_bytes = credit_messages = 0;
                zeroed_at = *seq;
            }
            return;
        }
        case p::opcode::removed:
            removed = true;
            credit_bytes = credit_messages = 0;
            return;
        case p::opcode::closing: {
            p::reader r(body);
            int reason = r.i32();
            cut_for = reason == EPROTO ? make_error_code(errc::bad_frame)
                                       : std::error_code(reason, std::system_category());
            return;
        }
        default:
            log().warn("queue client: ignoring notice {}", std::int64_t(op));
        }
    }

    enum class got { record, empty, closed };

    // Reads one record without waiting. Notices are handled here.
    got read_one(frame_header& h, std::span<const std::byte>& body) {
        alignas(cmsghdr) std::byte control[CMSG_SPACE(sizeof(int))];
        iovec iov{in.data(), in.size()};
        msghdr m{};
        auto take = [&] {
            m = {};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = control;
            m.msg_controllen = sizeof control;
            return retry_eintr([&] {
                return ::recvmsg(fd.get(), &m, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            });
        };
        ssize_t n = take();
        // AF_UNIX reports a daemon that closed before reading our last record as one
        // ECONNRESET ahead of what it sent us (such as why it closed): read on.
        if (n < 0 && errno == ECONNRESET)
            n = take();
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return got::empty;
        if (n <= 0)
            return got::closed;
        passed.reset();
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int passed_fd;
                std::memcpy(&passed_fd, CMSG_DATA(c), sizeof passed_fd);
                passed.reset(passed_fd);
            }
        auto d =
            std::size_t(n) > in.size()
                ? std::expected<frame_header, frame_fault>(std::unexpected(frame_fault::too_long))
                : decode(std::span(in.data(), std::size_t(n)), in.size());
        if (!d || d->kind != frame_kind::control_reply) {
            log().warn("queue client: malformed record from the daemon; closing");
            cut_for = make_error_code(errc::bad_frame);
            fd.reset();
            return got::closed;
        }
        h = *d;
        body = std::span<const std::byte>(in.data() + frame_header::size, d->length);
        if (h.sequence == 0) {
            on_notice(static_cast<p::opcode>(h.type), body);
            return read_one(h, body);
        }
        return got::record;
    }

    // Handles whatever the daemon has sent, without waiting.
    void drain() {
        if (!fd)
            return;
        frame_header h;
        std::span<const std::byte> body;
        while (read_one(h, body) == got::record)
            log().debug("queue client: dropping a stale reply {}", h.sequence);
    }

    // Waits until the daemon has sent something: with queue_options::spin, first polls without
    // sleeping for that long, yielding the CPU each turn (a daemon on this same CPU still runs).
    result<void> wait_readable(const deadline& until) {
        if (spin.count() > 0) {
            const auto stop = std::chrono::steady_clock::now() + spin;
            do {
                pollfd p{fd.get(), POLLIN, 0};
                int n = ::poll(&p, 1, 0);
                if (n > 0)
                    return {};
                if (n < 0)
                    return std::unexpected(last_error());
                ::sched_yield();
            } while (std::chrono::steady_clock::now() < stop && !until.passed());
        }
        return wait_fd(fd.get(), POLLIN, until);
    }

    // Waits for the reply to request `seq`. With `wait_first`, polls before the first read: the
    // request was just sent, so its answer is rarely there yet and a read would only say EAGAIN.
    result<reply> await(std::uint64_t seq, const deadline& until, bool interruptible,
                        bool wait_first = false) {
        for (;;) {
            if (!fd)
                return std::unexpected(lost());
            if (wait_first) {
                wait_first = false;
                auto w = wait_readable(until);
                if (!w && (interruptible || w.error() != std::errc::interrupted))
                    return std::unexpected(w.error());
            }
            frame_header h;
            std::span<const std::byte> body;
            switch (read_one(h, body)) {
            case got::closed:
                fd.reset();
                return std::unexpected(lost());
            case got::empty: {
                auto w = wait_readable(until);
                if (!w && (interruptible || w.error() != std::errc::interrupted))
                    return std::unexpected(w.error());
                continue;
            }
            case got::record:
                break;
            }
            if (h.sequence != seq) {
                log().debug("queue client: dropping a stale reply {}", h.sequence);
                continue;
            }
            unconfirmed = false;
            reply r;
            r.body = p::reader(body);
            auto e = p::decode_result(r.body);
            if (!e)
                return std::unexpected(make_error_code(errc::bad_frame));
            r.error = *e;
            return r;
        }
    }

    // Waits for the reply to a request that may wait in the daemon; on timeout or a signal,
    // cancels it and returns that — unless the daemon answered first.
    result<reply> await_or_cancel(std::uint64_t seq, const deadline& until,
                                  bool wait_first = false) {
        auto r = await(seq, until, true, wait_first);
        if (r || (r.error() != std::errc::timed_out && r.error() != std::errc::interrupted))
            return r;
        const std::error_code why = r.error();
        begin(p::opcode::cancel).u64(seq);
        if (auto c = request(); !c)
            return std::unexpected(c.error());
        auto answer = await(seq, deadline({}), false);
        if (!answer)
            return answer;
        if (answer->error == ECANCELED)
            return std::unexpected(why);
        return answer;
    }

    // A plain request and its reply; a nonzero result becomes the error.
    result<reply> call(p::opcode op, std::span<const std::byte> body) {
        note_identity();
        drain();
        report_taken();
        if (removed && op != p::opcode::info && op != p::opcode::list_queues &&
            op != p::opcode::stat_index && op != p::opcode::sync)
            return fail(std::errc::identifier_removed);
        give_back_credit();
        auto seq = request(op, body);
        if (!seq)
            return std::unexpected(seq.error());
        auto r = await(*seq, deadline({}), false);
        if (!r)
            return r;
        if (r->error)
            return fail_errno(r->error);
        return r;
    }

    // --- operations ----------------------------------------------------------------------------

    result<void> check(long type, std::size_t size) const {
        if (auto e = sysv::send_error(sysv::check_send(type, size, max_message_size)))
            return std::unexpected(e);
        return {};
    }

    // What every send and receive does first: hears the daemon out, and fails if it is gone.
    result<void> usable() {
        note_identity();
        drain();
        if (removed)
            return fail(std::errc::identifier_removed);
        if (!fd)
            return std::unexpected(lost());
        return {};
    }

    result<void> send(long type, std::span<const std::byte> payload, send_flags flags,
                      timeout limit) {
        if (auto ok = check(type, payload.size()); !ok)
            return ok;
        if (auto ok = usable(); !ok)
            return ok;
        ever_sent = true;
        return send_checked(type, payload, flags, deadline(limit));
    }

    // Packs messages[0..] into one data_batch record within the credit and the daemon's largest
    // message; returns how many it took (0: not even two fit, so batching gains nothing).
    // Errors: as send_out().
    result<std::size_t> send_batch_on_credit(std::span<const outgoing_message> messages,
                                             const deadline& until) {
        auto [count, bytes] = fit_batch(messages, true);
        if (count < 2)
            return 0;
        auto w = begin(frame_kind::data_batch, std::int64_t(count));
        write_entries(w, messages.first(count));
        if (auto sent = send_out(until, true); !sent)
            return std::unexpected(sent.error());
        next_sequence += count - 1; // a batch takes one sequence number per message
        credit_bytes -= bytes;
        credit_messages -= count;
        unconfirmed = true;
        return count;
    }

    // How many of messages[0..] one batch takes (entries within the daemon's largest message
    // and, `on_credit`, within the credit), and their payload bytes.
    std::pair<std::size_t, std::size_t> fit_batch(std::span<const outgoing_message> messages,
                                                  bool on_credit) const {
        std::size_t count = 0, bytes = 0, length = 0;
        for (const auto& m : messages) {
            if (length + batch_entry::header_size + m.payload.size() > max_message_size ||
                (on_credit &&
                 (count + 1 > credit_messages || bytes + m.payload.size() > credit_bytes)))
                break;
            bytes += m.payload.size();
            length += batch_entry::header_size + m.payload.size();
            ++count;
        }
        return {count, bytes};
    }

    static void write_entries(p::writer& w, std::span<const outgoing_message> messages) {
        std::array<std::byte, batch_entry::header_size> entry;
        for (const auto& m : messages) {
            encode_batch_entry(entry.data(), m.type, std::uint32_t(m.payload.size()));
            w.bytes(entry).bytes(m.payload);
        }
    }

    // Several messages without credit in one send_many request: the daemon queues them in
    // order while each fits, and answers how many (the first waits for room unless nowait).
    // Returns 0 when fewer than two fit one request. Errors: as send().
    result<std::size_t> send_batch_requested(std::span<const outgoing_message> messages,
                                             send_flags flags, const deadline& until) {
        const std::size_t count = fit_batch(messages, false).first;
        if (count < 2)
            return 0;
        const bool nowait = flags & send_flags::nowait;
        auto w = begin(p::opcode::send_many);
        w.u32(nowait ? p::op_nowait : 0u).u32(std::uint32_t(count));
        write_entries(w, messages.first(count));
        auto seq = send_out(until, true);
        if (!seq)
            return std::unexpected(seq.error());
        credit_bytes = credit_messages = 0; // a send request gives back unused credit
        zeroed_at = *seq;
        auto r =
            nowait ? await(*seq, deadline({}), false, true) : await_or_cancel(*seq, until, true);
        if (!r)
            return std::unexpected(r.error());
        if (r->error)
            return fail_errno(r->error);
        const std::uint64_t queued = r->body.u64();
        if (!r->body.done() || queued == 0 || queued > count)
            return std::unexpected(make_error_code(errc::bad_frame));
        return std::size_t(queued);
    }

    result<std::size_t> send_many(std::span<const outgoing_message> messages, send_flags flags,
                                  timeout limit) {
        for (const auto& m : messages)
            if (auto ok = check(m.type, m.payload.size()); !ok)
                return std::unexpected(ok.error());
        if (auto ok = usable(); !ok)
            return std::unexpected(ok.error());
        ever_sent = true;
        const deadline until(limit);
        std::size_t sent = 0;
        // After an error, what went stays sent: the count, and the error again on the next call.
        auto stop = [&](std::error_code e) -> result<std::size_t> {
            if (sent == 0)
                return std::unexpected(e);
            return sent;
        };
        while (sent < messages.size()) {
            auto rest = messages.subspan(sent);
            if (credit_messages < 2 || credit_bytes < rest[0].payload.size()) {
                drain(); // a grant may have come
                if (removed)
                    return stop(std::make_error_code(std::errc::identifier_removed));
            }
            auto n = send_batch_on_credit(rest, until);
            if (n && *n == 0) // short of credit: many messages in one request
                n = send_batch_requested(rest, flags, until);
            if (!n)
                return stop(n.error());
            if (*n == 0) {
                if (auto r = send_checked(rest[0].type, rest[0].payload, flags, until); !r)
                    return stop(r.error());
                n = 1;
            }
            sent += *n;
        }
        return sent;
    }

    // One message whose type and size are checked: on credit if there is enough, else as a
    // request the daemon answers once the message is queued.
    result<void> send_checked(long type, std::span<const std::byte> payload, send_flags flags,
                              const deadline& until) {
        if (credit_bytes >= payload.size() && credit_messages >= 1) {
            // The space is set aside for us: no need to hear back.
            auto seq = write(frame_kind::data, type, payload, until, true);
            if (!seq)
                return std::unexpected(seq.error());
            credit_bytes -= payload.size();
            --credit_messages;
            unconfirmed = true;
            return {};
        }
        auto w = begin(p::opcode::send);
        p::encode(w,
                  p::send_request{type, (flags & send_flags::nowait) ? p::op_nowait : 0u, payload});
        auto seq = send_out(until, true);
        if (!seq)
            return std::unexpected(seq.error());
        credit_bytes = credit_messages = 0; // a send request gives back unused credit
        zeroed_at = *seq;
        auto r = (flags & send_flags::nowait) ? await(*seq, deadline({}), false, true)
                                              : await_or_cancel(*seq, until, true);
        if (!r)
            return std::unexpected(r.error());
        if (r->error)
            return fail_errno(r->error == EMSGSIZE ? EMSGSIZE : r->error);
        return {};
    }

    void acknowledge(std::uint64_t arrival) {
        begin(p::opcode::ack).u64(arrival);
        (void)request();
    }

    // Starts a receive request: the caller appends its body to the writer returned, then
    // finishes with take(). Errors: as usable().
    result<p::writer> begin_take(p::opcode op) {
        note_identity();
        if (ever_sent)
            drain();
        if (removed)
            return fail(std::errc::identifier_removed);
        if (!fd)
            return std::unexpected(lost());
        give_back_credit();
        report_taken();
        return begin(op);
    }

    // --- the delivery socket -------------------------------------------------------------------

    // Tells the daemon how many messages this handle took from the delivery socket, so that
    // msg_lrpid and msg_rtime name it (one-way; before any other request, and every so often).
    // `waited`: a wait on the socket ended, with a record (taken_wait_ended) or without one
    // (taken_gave_up).
    void report_taken(std::uint32_t waited = 0) {
        if ((untold == 0 && !waited) || !fd)
            return;
        begin(p::opcode::taken).u64(untold).u32(waited).u32(0);
        untold = 0;
        (void)request();
    }

    // Asks for the delivery socket, telling the smallest buffer this handle takes records with.
    // Without it (TIPC, or the daemon has none), receives stay requests.
    void attach(std::uint64_t buffer) {
        std::vector<std::byte> body;
        p::writer(body).u64(buffer);
        auto r = call(p::opcode::attach, body);
        if (!r) {
            if (r.error() == std::errc::operation_not_supported)
                delivery_refused = true;
            else if (r.error() == std::errc::device_or_resource_busy)
                attach_again = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
            return; // (EAGAIN: later; other errors: the request path reports them)
        }
        if (!passed)
            return;
        if (!delivery) // a new socket; telling a smaller buffer keeps the same one, in order
            delivery_epoch = delivery_next = 0;
        delivery = std::move(passed);
        delivery_buffer = buffer;
    }

    // Waits with a limit for the delivery socket to have a record, as one of the receivers that
    // wait on it: the kernel wakes one of them per record, the one that waited longest (as a
    // blocking recv does; poll would wake them all). Errors: timed_out, interrupted.
    static result<void> wait_exclusively(int fd, const deadline& until) {
        unique_fd ep(::epoll_create1(EPOLL_CLOEXEC));
        epoll_event ev{EPOLLIN | EPOLLEXCLUSIVE, {}};
        if (!ep || ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
            return wait_fd(fd, POLLIN, until);
        const int n = ::epoll_wait(ep.get(), &ev, 1, until.poll_ms());
        if (n < 0)
            return std::unexpected(last_error());
        if (n == 0 && until.passed())
            return fail(std::errc::timed_out);
        return {};
    }

    enum class delivered { message, ask, none };

    // The fast path of msgrcv(msgtyp 0): one recv on the queue's delivery socket, straight into
    // `buffer` (MSG_NOERROR: the kernel cuts the record, as msgrcv cuts the message). Every
    // record there fits a buffer as large as the one this handle told the daemon, so E2BIG
    // cannot happen here; a shorter buffer first tells the daemon. `none`: this receive takes
    // the request path (a selector, nothing there with nowait, no delivery socket, or the
    // socket ended: the queue was removed or its permissions changed).
    result<delivered> receive_delivered(std::span<std::byte> buffer, selector which,
                                        receive_flags flags, const deadline& until, received& got,
                                        std::uint64_t* arrival) {
        if (which.type != 0 || delivery_refused || removed || !fd)
            return delivered::none;
        note_identity();
        const bool noerror = flags & receive_flags::noerror;
        const std::uint64_t need = noerror ? UINT64_MAX : buffer.size();
        if (!delivery || need < delivery_buffer) {
            if (!delivery && attach_again != std::chrono::steady_clock::time_point{} &&
                std::chrono::steady_clock::now() < attach_again)
                return delivered::none;
            attach(need);
            if (!delivery || removed)
                return delivered::none;
        }
        const bool nowait = flags & receive_flags::nowait;
        std::array<std::byte, p::delivery_header_size> head;
        // Waiting, the daemon is told (so the wait takes its place among parked receivers,
        // and stat counts it); once it ends, however it ends, it is told again.
        bool waiting = false;
        auto stop_waiting = [&] { // without a record
            if (waiting)
                report_taken(p::taken_gave_up);
        };
        for (;;) {
            iovec iov[2] = {{head.data(), head.size()}, {buffer.data(), buffer.size()}};
            msghdr m{};
            m.msg_iov = iov;
            m.msg_iovlen = buffer.empty() ? 1 : 2;
            const bool block = waiting && until.forever();
            ssize_t n = ::recvmsg(delivery.get(), &m, MSG_TRUNC | (block ? 0 : MSG_DONTWAIT));
            if (n < 0 && errno == EINTR) {
                const auto e = last_error(); // a signal ends a wait, as in msgrcv
                stop_waiting();
                return std::unexpected(e);
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (nowait)
                    return delivered::none; // the request path tells ENOMSG exactly
                if (!waiting) {
                    waiting = true;
                    begin(p::opcode::wait_delivery);
                    if (auto sent = request(); !sent)
                        return std::unexpected(sent.error());
                    continue;
                }
                auto w = wait_exclusively(delivery.get(), until);
                if (!w) {
                    stop_waiting();
                    return std::unexpected(w.error());
                }
                continue;
            }
            if (n <= 0) { // the daemon closed it: removed, permissions changed, or gone
                stop_waiting();
                delivery.reset();
                drain();
                if (removed)
                    return fail(std::errc::identifier_removed);
                return delivered::none;
            }
            auto h = decode_prefix(head);
            if (!h || std::size_t(n) < frame_header::size) {
                stop_waiting();
                delivery.reset();
                return std::unexpected(make_error_code(errc::bad_frame));
            }
            const bool ask =
                h->kind == frame_kind::control_reply && h->type == std::int64_t(p::opcode::ask);
            const bool too_long = h->kind == frame_kind::control_reply &&
                                  h->type == std::int64_t(p::opcode::too_long);
            if ((!ask && !too_long && h->kind != frame_kind::data) ||
                std::size_t(n) < p::delivery_header_size) {
                stop_waiting();
                delivery.reset();
                return std::unexpected(make_error_code(errc::bad_frame));
            }
            p::reader r(std::span<const std::byte>(head).subspan(frame_header::size));
            const pid_t sender = r.i32();
            const std::uint32_t bits = r.u32();
            const std::uint32_t epoch = r.u32(), number = r.u32();
            // Records in their order only: one after a gap was read back by the daemon
            // meanwhile, and so is not ours (it is queued again).
            const bool in_order =
                bits == 0 && (epoch == delivery_epoch ? number == delivery_next : number == 1);
            if (!in_order)
                continue;
            delivery_epoch = epoch;
            delivery_next = number + 1;
            if (ask) { // the head is longer than the buffer: msgrcv's rules, as a request
                stop_waiting();
                return delivered::ask;
            }
            if (too_long) { // the message due to this wait was longer than the buffer
                stop_waiting();
                return fail(std::errc::argument_list_too_long);
            }
            const std::size_t size = std::size_t(n) - p::delivery_header_size;
            got = {long(h->type), std::min(size, buffer.size()), size, sender};
            if (arrival)
                *arrival = h->sequence;
            if (++untold >= report_every || waiting)
                report_taken(waiting ? std::uint32_t(p::taken_wait_ended) : 0u);
            return delivered::message;
        }
    }

    static std::uint32_t take_bits(selector which, receive_flags flags) {
        std::uint32_t bits = 0;
        if (flags & receive_flags::nowait)
            bits |= p::op_nowait;
        if (flags & receive_flags::noerror)
            bits |= p::op_noerror;
        if (which.except)
            bits |= p::op_except;
        return bits;
    }

    // Sends the receive request begin_take() started and waits for what it takes.
    result<reply> take(receive_flags flags, timeout limit) {
        const deadline until(limit);
        auto seq = send_out(until, true);
        if (!seq)
            return std::unexpected(seq.error());
        auto r = (flags & receive_flags::nowait) ? await(*seq, deadline({}), false, true)
                                                 : await_or_cancel(*seq, until, true);
        if (!r)
            return std::unexpected(r.error());
        if (r->error)
            return fail_errno(r->error);
        return r;
    }

    result<received> receive(std::span<std::byte> buffer, selector which, receive_flags flags,
                             timeout limit, std::uint64_t* arrival = nullptr) {
        received got;
        auto fast = receive_delivered(buffer, which, flags, deadline(limit), got, arrival);
        if (!fast)
            return std::unexpected(fast.error());
        if (*fast == delivered::message)
            return got;
        auto w = begin_take(p::opcode::receive);
        if (!w)
            return std::unexpected(w.error());
        p::encode(*w, p::receive_request{which.type, take_bits(which, flags), buffer.size()});
        auto r = take(flags, limit);
        if (!r)
            return std::unexpected(r.error());
        auto m = p::decode_message(r->body);
        if (!m || m->data.size() > buffer.size())
            return std::unexpected(make_error_code(errc::bad_frame));
        got = {long(m->type), m->data.size(), m->size, pid_t(m->sender_pid)};
        if (!m->data.empty())
            std::memcpy(buffer.data(), m->data.data(), m->data.size());
        acknowledge(m->arrival);
        if (arrival)
            *arrival = m->arrival;
        return got;
    }

    result<std::size_t> receive_many(std::span<std::byte> buffer, std::span<incoming_message> out,
                                     selector which, receive_flags flags, timeout limit) {
        if (out.empty())
            return fail(std::errc::invalid_argument);
        auto w = begin_take(p::opcode::receive_many);
        if (!w)
            return std::unexpected(w.error());
        const auto most = std::uint32_t(std::min<std::size_t>(out.size(), UINT32_MAX));
        p::encode(
            *w, p::receive_many_request{which.type, take_bits(which, flags), buffer.size(), most});
        auto r = take(flags, limit);
        if (!r)
            return std::unexpected(r.error());
        auto h = p::decode_batch_header(r->body);
        if (!h || h->count > out.size())
            return std::unexpected(make_error_code(errc::bad_frame));
        std::size_t used = 0;
        std::uint64_t last = 0;
        for (std::size_t i = 0; i < h->count; ++i) {
            auto m = p::decode_entry(r->body);
            if (!m || m->data.size() > buffer.size() - used)
                return std::unexpected(make_error_code(errc::bad_frame));
            auto data = buffer.subspan(used, m->data.size());
            if (!data.empty())
                std::memcpy(data.data(), m->data.data(), data.size());
            used += data.size();
            out[i] = {long(m->type), data, m->size, pid_t(m->sender_pid)};
            last = m->arrival;
        }
        if (!r->body.done())
            return std::unexpected(make_error_code(errc::bad_frame));
        auto a = begin(p::opcode::ack_many);
        p::encode(a, p::ack_many_body{h->count, last});
        (void)request();
        return std::size_t(h->count);
    }

    result<message> message_reply(p::opcode op, std::span<const std::byte> body) {
        auto r = call(op, body);
        if (!r)
            return std::unexpected(r.error());
        auto m = p::decode_message(r->body);
        if (!m || m->data.size() != m->size)
            return std::unexpected(make_error_code(errc::bad_frame));
        return message{
            long(m->type), {m->data.begin(), m->data.end()}, pid_t(m->sender_pid), m->arrival};
    }

    // A reply in parts; `each` is called with a reader at every entry.
    template <class Each>
    result<void> parts(p::opcode op, std::span<const std::byte> body, Each each) {
        auto r = call(op, body);
        if (!r)
            return std::unexpected(r.error());
        const std::uint64_t seq = next_sequence - 1;
        for (;;) {
            auto h = p::decode_list_part(r->body);
            if (!h)
                return std::unexpected(make_error_code(errc::bad_frame));
            for (std::uint32_t i = 0; i < h->count; ++i)
                if (!each(r->body))
                    return std::unexpected(make_error_code(errc::bad_frame));
            if (!r->body.done())
                return std::unexpected(make_error_code(errc::bad_frame));
            if (h->last)
                return {};
            r = await(seq, deadline({}), false);
            if (!r)
                return std::unexpected(r.error());
            if (r->error)
                return fail_errno(r->error);
        }
    }

    struct entry {
        message copy;
        std::size_t size;
    };

    result<std::vector<entry>> list(bool with_data) {
        std::vector<std::byte> body;
        p::writer w(body);
        p::encode(w, p::list_request{with_data ? std::uint32_t(p::list_with_data) : 0u,
                                     with_data ? std::uint32_t(max_message_size) : 0u});
        std::vector<entry> all;
        auto done = parts(p::opcode::list, body, [&](p::reader& r) {
            auto e = p::decode_entry(r);
            if (!e || (with_data && e->data.size() != e->size))
                return false;
            all.push_back({{long(e->type),
                            {e->data.begin(), e->data.end()},
                            pid_t(e->sender_pid),
                            e->arrival},
                           e->size});
            return true;
        });
        if (!done)
            return std::unexpected(done.error());
        return all;
    }
};

namespace {

result<std::unique_ptr<queue::impl>> connect_daemon(const queue_options& options) {
    address where_given = options.daemon ? *options.daemon : address::unix_abstract("x").value();
    if (!options.daemon) {
        auto a = daemon_address();
        if (!a)
            return std::unexpected(a.error());
        where_given = *a;
    }
    const address where = where_given.resolve();
    auto via = transport_for(where);
    if (!via)
        return std::unexpected(via.error());
    auto fd = connect_waiting(**via, where, options.wait_for_daemon);
    if (!fd)
        return std::unexpected(fd.error());
    auto made = std::make_unique<queue::impl>(where, *via, std::move(*fd));
    made->spin = options.spin;
    if (options.exact_sysv)
        made->report_every = 1;
    return made;
}

} // namespace

queue::queue(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
queue::queue(queue&&) noexcept = default;
queue& queue::operator=(queue&&) noexcept = default;
queue::~queue() = default;

namespace {

// Connects and sends `open`: a handle on the queue, not yet wrapped.
result<std::unique_ptr<queue::impl>> open_request(p::open_request req,
                                                  const queue_options& options) {
    if (req.mode > 0777)
        return fail(std::errc::invalid_argument);
    auto c = connect_daemon(options);
    if (!c)
        return std::unexpected(c.error());
    req.capacity = options.capacity;
    if (options.exact_sysv)
        req.flags |= p::open_no_credit;
    std::vector<std::byte> body;
    p::writer w(body);
    p::encode(w, req);
    auto r = (*c)->call(p::opcode::open, body);
    if (!r)
        return std::unexpected(r.error());
    auto o = p::decode_open_reply(r->body);
    if (!o)
        return std::unexpected(make_error_code(errc::bad_frame));
    (*c)->id = o->id;
    (*c)->max_message_size = o->max_message_size;
    (*c)->capacity = o->capacity;
    return std::move(*c);
}

} // namespace

result<queue> queue::open(std::string_view name, open_flags flags, unsigned mode,
                          const queue_options& options) {
    if (name.empty() || name.size() > p::max_name_length ||
        name.find('\0') != std::string_view::npos)
        return fail(std::errc::invalid_argument);
    p::open_request req;
    req.mode = mode;
    if (flags & open_flags::create)
        req.flags |= p::open_create;
    if (flags & open_flags::exclusive)
        req.flags |= p::open_exclusive;
    if (name.front() == '#') {
        std::uint64_t id = 0;
        auto [end, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), id);
        if (ec != std::errc() || end != name.data() + name.size()) // ("#0": the first id)
            return fail(std::errc::invalid_argument);
        req.flags |= p::open_by_id;
        req.id = id;
    } else {
        req.name = name;
    }
    auto made = open_request(std::move(req), options);
    if (!made)
        return std::unexpected(made.error());
    return queue(std::move(*made));
}

result<queue> queue::create_private(unsigned mode, const queue_options& options) {
    p::open_request req;
    req.flags = p::open_private | p::open_create;
    req.mode = mode;
    auto made = open_request(std::move(req), options);
    if (!made)
        return std::unexpected(made.error());
    return queue(std::move(*made));
}

result<void> queue::send(long type, std::span<const std::byte> payload, send_flags flags,
                         timeout limit) {
    return impl_->send(type, payload, flags, limit);
}

result<received> queue::receive(std::span<std::byte> buffer, selector which, receive_flags flags,
                                timeout limit) {
    return impl_->receive(buffer, which, flags, limit);
}

result<std::size_t> queue::send_many(std::span<const outgoing_message> messages, send_flags flags,
                                     timeout limit) {
    return impl_->send_many(messages, flags, limit);
}

result<std::size_t> queue::receive_many(std::span<std::byte> buffer,
                                        std::span<incoming_message> out, selector which,
                                        receive_flags flags, timeout limit) {
    return impl_->receive_many(buffer, out, which, flags, limit);
}

result<message> queue::receive(selector which, receive_flags flags, timeout limit) {
    return receive_owned(impl_->max_message_size, [&](std::span<std::byte> buffer, message& m) {
        return impl_->receive(buffer, which, flags, limit, &m.arrival);
    });
}

result<message> queue::peek(selector which) {
    std::vector<std::byte> body;
    p::writer w(body);
    p::encode(w, p::peek_request{which.type, which.except ? std::uint32_t(p::op_except) : 0u});
    return impl_->message_reply(p::opcode::peek, body);
}

result<message> queue::peek_at(std::size_t position) {
    std::vector<std::byte> body;
    p::writer(body).u64(position);
    return impl_->message_reply(p::opcode::peek_at, body);
}

result<std::vector<message_info>> queue::list() {
    auto all = impl_->list(false);
    if (!all)
        return std::unexpected(all.error());
    std::vector<message_info> info;
    info.reserve(all->size());
    for (const auto& e : *all)
        info.push_back({e.copy.type, e.size, e.copy.arrival, e.copy.sender_pid});
    return info;
}

result<std::vector<message>> queue::peek_all() {
    auto all = impl_->list(true);
    if (!all)
        return std::unexpected(all.error());
    std::vector<message> copies;
    copies.reserve(all->size());
    for (auto& e : *all)
        copies.push_back(std::move(e.copy));
    return copies;
}

result<queue_stat> queue::stat() {
    auto r = impl_->call(p::opcode::stat, {});
    if (!r)
        return std::unexpected(r.error());
    auto s = p::decode_stat(r->body);
    if (!s || !r->body.done())
        return std::unexpected(make_error_code(errc::bad_frame));
    return to_stat(*s);
}

result<void> queue::set(const queue_settings& settings) {
    p::set_request req;
    if (settings.mode) {
        req.which |= p::set_mode;
        req.mode = *settings.mode;
    }
    if (settings.uid) {
        req.which |= p::set_uid;
        req.uid = *settings.uid;
    }
    if (settings.gid) {
        req.which |= p::set_gid;
        req.gid = *settings.gid;
    }
    if (settings.capacity) {
        req.which |= p::set_capacity;
        req.capacity = *settings.capacity;
    }
    std::vector<std::byte> body;
    p::writer w(body);
    p::encode(w, req);
    auto r = impl_->call(p::opcode::set, body);
    if (!r)
        return std::unexpected(r.error());
    if (settings.capacity)
        impl_->capacity = *settings.capacity;
    return {};
}

result<void> queue::remove() {
    auto r = impl_->call(p::opcode::remove, {});
    if (!r)
        return std::unexpected(r.error());
    impl_->removed = true;
    return {};
}

result<daemon_info> queue::info(const queue_options& options) {
    auto c = connect_daemon(options);
    if (!c)
        return std::unexpected(c.error());
    auto r = (*c)->call(p::opcode::info, {});
    if (!r)
        return std::unexpected(r.error());
    auto i = p::decode_info(r->body);
    if (!i)
        return std::unexpected(make_error_code(errc::bad_frame));
    daemon_info d{i->queues,          i->messages,   i->bytes,           i->clients,
                  i->protocol_errors, i->max_queues, i->max_queue_bytes, i->max_message_size,
                  i->max_clients,     i->memory,     i->max_memory,      i->default_capacity,
                  std::nullopt,       std::nullopt};
    if (i->highest_index >= 0)
        d.highest_index = std::size_t(i->highest_index);
    if (i->sync_policy != 0) {
        static constexpr const char* policies[] = {"", "always", "batch", "none"};
        d.state = daemon_info::state_directory{
            i->state_dir,
            policies[i->sync_policy],
            std::chrono::milliseconds(i->sync_interval_ms),
            i->store_bytes,
            i->store_used,
            std::chrono::system_clock::time_point(std::chrono::nanoseconds(i->last_sync))};
    }
    return d;
}

result<queue_stat> queue::stat_index(std::uint32_t index, stat_check check,
                                     const queue_options& options) {
    auto c = connect_daemon(options);
    if (!c)
        return std::unexpected(c.error());
    std::vector<std::byte> body;
    p::writer w(body);
    p::encode(w, p::stat_index_request{index, check == stat_check::none ? p::stat_any : 0u});
    auto r = (*c)->call(p::opcode::stat_index, body);
    if (!r)
        return std::unexpected(r.error());
    auto s = p::decode_stat(r->body);
    if (!s || !r->body.done())
        return std::unexpected(make_error_code(errc::bad_frame));
    return to_stat(*s);
}

result<std::vector<queue_stat>> queue::list_queues(const queue_options& options) {
    auto c = connect_daemon(options);
    if (!c)
        return std::unexpected(c.error());
    std::vector<queue_stat> all;
    auto done = (*c)->parts(p::opcode::list_queues, {}, [&](p::reader& r) {
        auto s = p::decode_stat(r);
        if (!s)
            return false;
        all.push_back(to_stat(*s));
        return true;
    });
    if (!done)
        return std::unexpected(done.error());
    return all;
}

std::size_t queue::max_message_size() const noexcept {
    return impl_->max_message_size;
}

result<void> queue::flush() {
    return impl_->flush();
}

int queue::native_handle() const noexcept {
    return impl_->fd.get();
}

bool detail::queue_known_removed(queue& q) noexcept {
    q.impl_->drain();
    return q.impl_->removed;
}

std::uint64_t detail::queue_id(const queue& q) noexcept {
    return q.impl_->id;
}

void detail::queue_abandon(queue& q) noexcept {
    // Closing our copies only: nothing is sent, and the parent's connection stays as it was.
    if (!q.impl_)
        return;
    q.impl_->fd.reset();
    q.impl_->delivery.reset();
    q.impl_->passed.reset();
}

} // namespace seqmq
