// fuzz_daemon_session: seqmqd in process (src/daemon: the session layer, the request handlers,
// the queue model, delivery sockets) fed records by up to three clients. Each client is one end
// of a socketpair whose other end seqmqd's session table takes as an accepted connection; the
// harness runs seqmqd's turns as its event loop (server.cpp) does, without the listeners:
// epoll events, the records of each readable client (recvmmsg, session_table::check,
// requests::serve, end_of_turn), the sweep of departed clients, feed_all. Bounded (a turn at most
// 8 rounds per step), no sleeping; every input starts a fresh daemon and closes everything.
//
// Input: steps (fuzz_support.hpp). op bits 0-1 pick the client (3 is client 0), bits 2-4 the
// action:
//   0 raw       the bytes are one record, sent as they are
//   1 framed    bytes = u8 kind, i64 type, payload: sent with a valid header and the client's
//               next sequence number
//   2 request   bytes = u8 opcode, body: a control request, framed so
//   3 read      the client reads every record waiting for it
//   4 take      the client takes one record from the delivery socket it was passed, if any
//   5 hang up   the client closes its connection (its next step connects again)
//   6 batch     bytes = entries of (u8 type, u8 length, data): one data_batch record, framed
//   7 repeat    bytes = u8 n, u8 opcode, body: n such requests at once, so that replies back
//               up (n = 0: nothing, seqmqd only takes one more turn)
// After each step seqmqd takes turns until it has nothing left to do; at the end every client
// reads what is left.
//
// Invariants, on what the daemon sends each client: every record is a control reply that the
// client's decoders read (check_reply, check_notice); it answers a request this client sent,
// with that request's opcode, once (list parts: back to back until the last, their counts adding
// up to the total); requests that have no reply get none; a descriptor comes only with a
// successful attach; a receive obeys msgrcv (the selector admits the type, the text is the
// message cut to the buffer, longer than the buffer only with noerror); peeks carry the whole
// text; delivery records are well formed. And no descriptor or memory is left behind.
// SEQMQ_FUZZ_TRACE=1 prints every record the clients get (to replay an input by hand).
#include "fuzz_support.hpp"
#include "input_formats.hpp"
#include "wire_checks.hpp"

#include "daemon/requests.hpp"
#include "daemon/server.hpp"
#include "daemon/session.hpp"
#include "sys/fd.hpp"
#include "transport/transport.hpp"
#include "wire/byte_order.hpp"
#include "wire/daemon_protocol.hpp"
#include "wire/frame.hpp"

#include <seqmq/message.hpp>

#include <array>
#include <cerrno>
#include <map>
#include <memory>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <utility>

namespace {

using namespace seqmq::detail;
namespace p = seqmq::detail::proto;
namespace d = seqmq::daemon;
using seqmq_fuzz::step;

constexpr std::size_t clients = 3;
constexpr int rounds_per_step = 8;

d::server_options small_daemon() {
    d::server_options o;
    o.max_queues = 3;
    o.default_capacity = 1024;
    o.max_queue_bytes = 2048;
    o.max_message_size = 256;
    o.max_clients = 2; // the third client is refused (EUSERS)
    o.max_pending = 3;
    o.credit_window = 128; // one grant costs 128 + 128 messages' overhead: about 16 KiB
    o.max_output = 16384;
    o.max_output_total = 24576;
    o.max_unacked = 6;
    o.max_memory = 24576; // room for one grant, and ENOMEM within a few hundred messages
    o.delivery_window = 4096;
    return o;
}

// What a client sent and still expects an answer to.
struct sent_request {
    p::opcode op;
    std::optional<p::receive_request> receive;
    std::optional<p::receive_many_request> receive_many;
    std::optional<p::peek_request> peek;
    std::optional<p::list_request> list;
};

bool has_reply(p::opcode op) {
    using p::opcode;
    switch (op) {
    case opcode::cancel:
    case opcode::release:
    case opcode::ack:
    case opcode::ack_many:
    case opcode::taken:
    case opcode::wait_delivery:
        return false;
    default:
        return true;
    }
}

struct client {
    unique_fd fd;                    // the client's end
    d::session* session = nullptr;   // the daemon's end, until swept
    std::uint64_t next_sequence = 1; // the daemon's count, and what was sent since
    std::map<std::uint64_t, sent_request> sent;
    struct list_progress {
        std::uint64_t sequence;
        std::uint64_t entries = 0;
    };
    std::optional<list_progress> open_list; // a list reply whose last part has not come yet
    unique_fd delivery;                     // passed by attach
    bool connected = false;
};

// The records one recv can return, and one delivery record.
std::vector<std::byte>& read_buffer() {
    static std::vector<std::byte> b(256 * 1024);
    return b;
}

class harness {
public:
    harness()
        : options_(small_daemon()), poller_(::epoll_create1(EPOLL_CLOEXEC)),
          sessions_({options_.max_clients, options_.max_output, options_.max_output_total},
                    poller_.get()),
          serving_(options_, sessions_, poller_.get()),
          slot_size_(frame_header::size + serving_.max_request() + 1),
          in_(slot_size_ * read_slots) {
        SEQMQ_FUZZ_EXPECT(poller_);
        for (std::size_t i = 0; i < read_slots; ++i) {
            iov_[i] = {in_.data() + i * slot_size_, slot_size_};
            msgs_[i] = {};
            msgs_[i].msg_hdr.msg_iov = &iov_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
        }
    }

    void run(const step& s) {
        client& c = clients_[(s.op & 3) % clients];
        if (c.session) // it has read everything c sent before: each step ends with its turns
            c.next_sequence = c.session->next_sequence;
        using action = seqmq_fuzz::formats::session_action;
        switch (action((s.op >> 2) & 7)) {
        case action::raw:
            send_raw(c, s.bytes);
            break;
        case action::framed: {
            seqmq_fuzz::field_reader f(s.bytes);
            const auto kind = f.u8();
            const auto type = f.i64();
            send_framed(c, kind, type, f.rest());
            break;
        }
        case action::request: {
            seqmq_fuzz::field_reader f(s.bytes);
            const auto op = f.u8();
            send_framed(c, std::uint8_t(frame_kind::control_request), op, f.rest());
            break;
        }
        case action::read:
            read_all(c);
            break;
        case action::take:
            take_delivered(c);
            break;
        case action::hang_up:
            hang_up(c);
            break;
        case action::batch:
            send_batch(c, s.bytes);
            break;
        case action::repeat: {
            seqmq_fuzz::field_reader f(s.bytes);
            const unsigned n = f.u8();
            const auto op = f.u8();
            const auto body = f.rest();
            for (unsigned i = 0; i < n; ++i)
                send_framed(c, std::uint8_t(frame_kind::control_request), op, body);
            break;
        }
        }
        turns();
    }

    void finish() {
        for (client& c : clients_)
            if (c.connected)
                read_all(c);
    }

private:
    static constexpr std::size_t read_slots = 16;

    // --- the client side ---------------------------------------------------------------------

    void connect(client& c) {
        if (c.connected)
            return;
        int sv[2];
        SEQMQ_FUZZ_EXPECT(
            ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        c = client{};
        c.fd.reset(sv[0]);
        unique_fd daemon_end(sv[1]);
        // A small send buffer on seqmqd's side (16 KiB as the kernel counts it), so that a
        // client that reads nothing for a score of replies makes them back up, and seqmqd's
        // output bounds and flushing are reached.
        const int buffer = 8192;
        ::setsockopt(daemon_end.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
        c.session = sessions_.add(std::move(daemon_end), &unix_transport());
        c.connected = true;
    }

    void hang_up(client& c) {
        if (!c.connected)
            return;
        c.fd.reset();
        c.delivery.reset();
        c.connected = false;
        // The session stays until seqmqd reads the end of stream.
    }

    // Notes what a record the client sends asks for, if it is the one the daemon takes next.
    void note_sent(client& c, std::span<const std::byte> record) {
        auto h = decode(record, record.size());
        if (!h || h->sequence != c.next_sequence)
            return;
        if (h->kind == frame_kind::control_request) {
            const auto op = static_cast<p::opcode>(h->type);
            const auto body = record.subspan(frame_header::size);
            sent_request r{op, {}, {}, {}, {}};
            if (op == p::opcode::receive)
                r.receive = p::decode_receive_request(body);
            else if (op == p::opcode::receive_many)
                r.receive_many = p::decode_receive_many_request(body);
            else if (op == p::opcode::peek)
                r.peek = p::decode_peek_request(body);
            else if (op == p::opcode::list)
                r.list = p::decode_list_request(body);
            if (has_reply(op))
                c.sent.insert_or_assign(h->sequence, r);
        }
        c.next_sequence =
            h->sequence + (h->kind == frame_kind::data_batch ? std::uint64_t(h->type) : 1);
    }

    void send_raw(client& c, std::span<const std::byte> record) {
        connect(c);
        if (!c.fd)
            return;
        note_sent(c, record);
        (void)::send(c.fd.get(), record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }

    void send_framed(client& c, std::uint8_t kind, std::int64_t type,
                     std::span<const std::byte> payload) {
        connect(c);
        std::vector<std::byte> r(frame_header::size);
        r.insert(r.end(), payload.begin(), payload.end());
        const auto k = kind >= 1 && kind <= 4 ? frame_kind(kind) : frame_kind::control_request;
        encode(frame_header{k, std::uint32_t(payload.size()), c.next_sequence, type},
               std::span(r).first<frame_header::size>());
        send_raw(c, r);
    }

    void send_batch(client& c, std::span<const std::byte> spec) {
        std::vector<std::byte> payload;
        std::int64_t count = 0;
        while (!spec.empty()) {
            const auto type = std::to_integer<std::uint8_t>(spec[0]);
            const std::size_t length = spec.size() > 1 ? std::to_integer<std::size_t>(spec[1]) : 0;
            spec = spec.subspan(std::min<std::size_t>(2, spec.size()));
            const auto data = spec.first(std::min(length, spec.size()));
            spec = spec.subspan(data.size());
            std::byte header[batch_entry::header_size];
            encode_batch_entry(header, type, std::uint32_t(data.size()));
            payload.insert(payload.end(), std::begin(header), std::end(header));
            payload.insert(payload.end(), data.begin(), data.end());
            ++count;
        }
        send_framed(c, std::uint8_t(frame_kind::data_batch), std::max<std::int64_t>(count, 1),
                    payload);
    }

    // Reads every record waiting for c and checks it.
    void read_all(client& c) {
        if (!c.connected || !c.fd)
            return;
        auto& buf = read_buffer();
        for (bool reset_seen = false;;) {
            alignas(cmsghdr) std::byte control[CMSG_SPACE(4 * sizeof(int))];
            iovec iov{buf.data(), buf.size()};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = control;
            m.msg_controllen = sizeof control;
            const ssize_t n = ::recvmsg(c.fd.get(), &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (n < 0 && errno == ECONNRESET && !std::exchange(reset_seen, true))
                continue; // reported once, ahead of what is still queued
            if (n < 0)
                return; // EAGAIN: nothing more
            std::vector<unique_fd> passed;
            for (cmsghdr* cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                    for (std::size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
                        int fd;
                        std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
                        passed.emplace_back(fd);
                    }
            SEQMQ_FUZZ_EXPECT(!(m.msg_flags & MSG_TRUNC));
            if (n == 0) {
                SEQMQ_FUZZ_EXPECT(passed.empty());
                hang_up(c);
                return;
            }
            check_record(c, std::span(buf.data(), std::size_t(n)), passed);
        }
    }

    void check_record(client& c, std::span<const std::byte> record,
                      std::vector<unique_fd>& passed) {
        auto h = decode(record, record.size());
        SEQMQ_FUZZ_EXPECT(h.has_value());
        SEQMQ_FUZZ_EXPECT(h->kind == frame_kind::control_reply);
        const auto op = static_cast<p::opcode>(h->type);
        const auto payload = record.subspan(frame_header::size);
        if (seqmq_fuzz::tracing())
            std::fprintf(stderr, "client %zu: %s %s seq %llu, %zu bytes, result %d\n",
                         std::size_t(&c - clients_.data()), h->sequence ? "reply" : "notice",
                         std::string(p::to_string(op)).c_str(), (unsigned long long)h->sequence,
                         payload.size(),
                         payload.size() >= 4 ? get_big_endian<std::int32_t>(payload.data()) : -1);
        if (h->sequence == 0) { // a notice
            SEQMQ_FUZZ_EXPECT(passed.empty());
            SEQMQ_FUZZ_EXPECT(seqmq_fuzz::check_notice(op, payload));
            return;
        }
        if (c.open_list) // the parts of a list reply come back to back
            SEQMQ_FUZZ_EXPECT(h->sequence == c.open_list->sequence);
        auto it = c.sent.find(h->sequence);
        SEQMQ_FUZZ_EXPECT(it != c.sent.end()); // a request of this client, not answered yet
        const sent_request& req = it->second;
        SEQMQ_FUZZ_EXPECT(req.op == op);
        auto facts = seqmq_fuzz::check_reply(op, payload);
        SEQMQ_FUZZ_EXPECT(facts.has_value());
        SEQMQ_FUZZ_EXPECT(passed.size() == (op == p::opcode::attach && facts->error == 0 ? 1 : 0));
        if (!passed.empty())
            c.delivery = std::move(passed.front());
        if (facts->error == 0)
            check_success(req, payload, *facts);
        if (facts->part) {
            const p::list_part_header& part = *facts->part;
            if (!c.open_list)
                c.open_list = client::list_progress{h->sequence};
            c.open_list->entries += part.count;
            SEQMQ_FUZZ_EXPECT(c.open_list->entries <= part.total);
            if (!part.last)
                return;
            SEQMQ_FUZZ_EXPECT(c.open_list->entries == part.total);
            c.open_list.reset();
        }
        c.sent.erase(it);
    }

    // What a successful reply says about the request it answers.
    static void check_success(const sent_request& req, std::span<const std::byte> payload,
                              const seqmq_fuzz::reply_facts& facts) {
        p::reader r(payload.subspan(8));
        switch (req.op) {
        case p::opcode::receive: {
            auto m = p::decode_message(r);
            SEQMQ_FUZZ_EXPECT(m && req.receive);
            const auto& q = *req.receive;
            SEQMQ_FUZZ_EXPECT((seqmq::selector{long(q.type), (q.flags & p::op_except) != 0}.admits(
                long(m->type))));
            SEQMQ_FUZZ_EXPECT(m->data.size() == std::min<std::uint64_t>(m->size, q.buffer));
            SEQMQ_FUZZ_EXPECT(m->size <= q.buffer || (q.flags & p::op_noerror));
            SEQMQ_FUZZ_EXPECT(m->size <= small_daemon().max_message_size);
            break;
        }
        case p::opcode::receive_many: {
            SEQMQ_FUZZ_EXPECT(req.receive_many.has_value());
            const auto& q = *req.receive_many;
            auto h = p::decode_batch_header(r);
            SEQMQ_FUZZ_EXPECT(h && h->count <= q.count);
            std::uint64_t left = q.buffer;
            for (std::uint32_t i = 0; i < h->count; ++i) {
                auto e = p::decode_entry(r);
                SEQMQ_FUZZ_EXPECT(e.has_value());
                SEQMQ_FUZZ_EXPECT(
                    (seqmq::selector{long(q.type), (q.flags & p::op_except) != 0}.admits(
                        long(e->type))));
                SEQMQ_FUZZ_EXPECT(e->data.size() == std::min<std::uint64_t>(e->size, left));
                if (i == 0)
                    SEQMQ_FUZZ_EXPECT(e->size <= left || (q.flags & p::op_noerror));
                else
                    SEQMQ_FUZZ_EXPECT(e->size <= left); // later ones only while they fit
                left -= e->data.size();
            }
            break;
        }
        case p::opcode::peek: {
            auto m = p::decode_message(r);
            SEQMQ_FUZZ_EXPECT(m && req.peek);
            SEQMQ_FUZZ_EXPECT((
                seqmq::selector{long(req.peek->type), (req.peek->flags & p::op_except) != 0}.admits(
                    long(m->type))));
            SEQMQ_FUZZ_EXPECT(facts.full_data);
            break;
        }
        case p::opcode::peek_at:
            SEQMQ_FUZZ_EXPECT(facts.full_data);
            break;
        case p::opcode::list: {
            SEQMQ_FUZZ_EXPECT(req.list.has_value());
            const std::size_t max_data = (req.list->flags & p::list_with_data)
                                             ? std::min<std::size_t>(req.list->max_data, 65536)
                                             : 0;
            auto part = p::decode_list_part(r);
            for (std::uint32_t i = 0; part && i < part->count; ++i) {
                auto e = p::decode_entry(r);
                SEQMQ_FUZZ_EXPECT(e && e->data.size() == std::min<std::size_t>(e->size, max_data));
            }
            break;
        }
        case p::opcode::info: {
            auto i = p::decode_info(r);
            SEQMQ_FUZZ_EXPECT(i && i->queues <= i->max_queues && i->clients <= i->max_clients);
            break;
        }
        case p::opcode::send_many:
            SEQMQ_FUZZ_EXPECT(facts.messages >= 1);
            break;
        default:
            break;
        }
    }

    // Takes one record from c's delivery socket and checks it.
    void take_delivered(client& c) {
        if (!c.delivery)
            return;
        auto& buf = read_buffer();
        const ssize_t n = ::recv(c.delivery.get(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n == 0) { // seqmqd closed it
            c.delivery.reset();
            return;
        }
        if (n < 0)
            return;
        const std::span<const std::byte> record(buf.data(), std::size_t(n));
        if (seqmq_fuzz::tracing())
            std::fprintf(stderr, "client %zu: delivery record, %zu bytes\n",
                         std::size_t(&c - clients_.data()), record.size());
        SEQMQ_FUZZ_EXPECT(record.size() >= p::delivery_header_size);
        auto h = decode_prefix(record);
        SEQMQ_FUZZ_EXPECT(h.has_value());
        SEQMQ_FUZZ_EXPECT(h->length == record.size() - frame_header::size);
        if (h->kind == frame_kind::data) {
            SEQMQ_FUZZ_EXPECT(h->type >= 1);
            SEQMQ_FUZZ_EXPECT(record.size() - p::delivery_header_size <=
                              small_daemon().max_message_size);
        } else {
            SEQMQ_FUZZ_EXPECT(h->kind == frame_kind::control_reply);
            SEQMQ_FUZZ_EXPECT(h->type == std::int64_t(p::opcode::ask) ||
                              h->type == std::int64_t(p::opcode::too_long));
            SEQMQ_FUZZ_EXPECT(record.size() == p::delivery_header_size);
        }
        const auto flags = get_big_endian<std::uint32_t>(record.data() + frame_header::size + 4);
        SEQMQ_FUZZ_EXPECT(flags == 0);
    }

    // --- seqmqd's side: its event loop without the listeners ---------------------------------

    void turns() {
        std::array<epoll_event, 32> events;
        bool more_to_free = false;
        for (int round = 0; round < rounds_per_step; ++round) {
            const int n = ::epoll_wait(poller_.get(), events.data(), int(events.size()), 0);
            SEQMQ_FUZZ_EXPECT(n >= 0);
            if (n == 0 && !more_to_free)
                break;
            for (int i = 0; i < n; ++i) {
                const std::uint64_t tag = events[i].data.u64;
                if (tag & d::requests::delivery_tag) {
                    serving_.on_writable(tag);
                    continue;
                }
                auto* s = reinterpret_cast<d::session*>(tag);
                if (s->dead)
                    continue;
                if (events[i].events & EPOLLOUT)
                    sessions_.flush(*s);
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_readable(*s);
            }
            more_to_free = sessions_.sweep(16, [&](d::session& s) {
                serving_.forget(s);
                for (client& c : clients_)
                    if (c.session == &s)
                        c.session = nullptr;
            });
            serving_.feed_all();
        }
    }

    // server.cpp's on_readable().
    void on_readable(d::session& s) {
        for (int budget = 64; budget > 0 && !s.dead;) {
            const unsigned want = unsigned(std::min<std::size_t>(read_slots, std::size_t(budget)));
            auto take = [&] {
                return ::recvmmsg(s.fd.get(), msgs_.data(), want, MSG_TRUNC | MSG_DONTWAIT,
                                  nullptr);
            };
            int n = take();
            if (n < 0 && errno == ECONNRESET)
                n = take();
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    sessions_.free_client_later(s);
                break;
            }
            if (n == 0) {
                sessions_.free_client_later(s);
                break;
            }
            budget -= n;
            for (std::size_t i = 0; i < std::size_t(n) && !s.dead; ++i) {
                const auto& m = msgs_[i];
                const std::size_t length = std::min<std::size_t>(m.msg_len, slot_size_);
                const bool longer = (m.msg_hdr.msg_flags & MSG_TRUNC) || m.msg_len >= slot_size_;
                const std::span<const std::byte> record(in_.data() + i * slot_size_, length);
                if (auto h = sessions_.check(s, record, longer, serving_.max_request(),
                                             options_.max_message_size))
                    serving_.serve(s, *h, record.subspan(frame_header::size, h->length));
            }
            if (unsigned(n) < want)
                break;
        }
        serving_.end_of_turn(s);
    }

    d::server_options options_;
    unique_fd poller_;
    d::session_table sessions_;
    d::requests serving_;
    std::size_t slot_size_;
    std::vector<std::byte> in_;
    std::array<iovec, read_slots> iov_{};
    std::array<mmsghdr, read_slots> msgs_{};
    std::array<client, clients> clients_;
};

const seqmq_fuzz::descriptor_watch* watch = nullptr;

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    static const seqmq_fuzz::descriptor_watch w;
    watch = &w;
    (void)read_buffer();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    {
        harness h;
        seqmq_fuzz::step_reader steps(data, size);
        while (auto s = steps.next())
            h.run(*s);
        h.finish();
    }
    watch->expect_none_leaked();
    return 0;
}
