// fuzz_mailbox: one mailbox (src/mailbox/mailbox.cpp) reading the records of up to three raw
// SOCK_SEQPACKET senders, between receives (nowait), peeks, lists and stats. The mailbox listens
// on an abstract AF_UNIX address of this process; every input opens it afresh and closes
// everything. Nothing waits: a receive is nowait, or waits 0 ms.
//
// Input: steps (fuzz_support.hpp). op bits 0-1 pick the sender (3 is sender 0), bits 2-4 the
// action:
//   0 raw       the bytes are one record, sent as they are
//   1 framed    bytes = u8 kind, i64 type, payload: sent with a valid header and the sender's
//               next sequence number
//   2 receive   bytes = i64 msgtyp, u8 flags (1 except, 2 noerror, 4 peek first, 8 into an
//               owned message, 16 wait 0 ms instead of nowait), u16 buffer (modulo 512)
//   3 peek_at   bytes = u8 position
//   4 list      list() and stat(), compared
//   5 read      the sender reads the notices waiting for it (hello, closing)
//   6 hang up   the sender closes its connection (its next step connects again)
//   7 handle    native_handle(), polled without waiting
//
// Invariants: hello and closing notices decode and carry the mailbox's limits and a reason;
// a receive obeys msgrcv (the selector admits the type, the text is cut to the buffer, only with
// noerror, the type is >= 1 and the size within the maximum); a peek is what the receive with
// the same selector takes next; peek_at(i) is list()[i]; list() and stat() agree, the stash is
// within the capacity, arrivals increase; and no descriptor or memory is left behind.
// SEQMQ_FUZZ_TRACE=1 prints what the mailbox answers (to replay an input by hand).
#include "fuzz_support.hpp"
#include "input_formats.hpp"

#include "wire/frame.hpp"

#include <seqmq/address.hpp>
#include <seqmq/mailbox.hpp>
#include <seqmq/message.hpp>

#include "sys/fd.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

namespace {

using namespace seqmq::detail;

constexpr std::size_t senders = 3;

// A finding of this harness, fixed in mailbox.cpp: a sender that closes its socket with a notice
// unread makes the mailbox's next recv on it fail once with ECONNRESET; when that was the MSG_PEEK
// of read_one() (the stash nearly full), the record was read without the room check, the stash
// went past its capacity and `capacity - stash.bytes()` wrapped. true would have senders read
// their notices before they hang up, which leaves that path unfuzzed: keep it false.
constexpr bool avoid_known_finding = false;

seqmq::mailbox_options small_mailbox() {
    seqmq::mailbox_options o;
    o.capacity = 512;
    o.max_message_size = 128;
    o.max_connections = 2; // the third sender is accepted and closed at once
    o.direct_wait = std::chrono::microseconds(0);
    return o;
}

struct raw_sender {
    unique_fd fd;
    std::uint64_t next_sequence = 1; // as the mailbox counts them, while it keeps the connection
    bool connected = false;
};

class harness {
public:
    explicit harness(const seqmq::address& where) : where_(where) {
        auto box = seqmq::mailbox::open(where, options_);
        SEQMQ_FUZZ_EXPECT(box.has_value());
        box_.emplace(std::move(*box));
    }

    void run(const seqmq_fuzz::step& s) {
        raw_sender& c = senders_[(s.op & 3) % senders];
        using action = seqmq_fuzz::formats::mailbox_action;
        namespace f = seqmq_fuzz::formats;
        switch (action((s.op >> 2) & 7)) {
        case action::raw:
            send(c, s.bytes);
            break;
        case action::framed: {
            seqmq_fuzz::field_reader f(s.bytes);
            const auto kind = f.u8();
            const auto type = f.i64();
            send_framed(c, kind, type, f.rest());
            break;
        }
        case action::receive: {
            seqmq_fuzz::field_reader f(s.bytes);
            const auto type = f.i64();
            const auto flags = f.u8();
            const std::size_t buffer = f.u16() % 512;
            const seqmq::selector which{long(type), (flags & f::except) != 0};
            if (flags & f::owned)
                receive_owned(which, (flags & f::wait_zero) != 0);
            else
                receive(which, (flags & f::noerror) != 0, buffer, (flags & f::peek_first) != 0,
                        (flags & f::wait_zero) != 0);
            break;
        }
        case action::peek_at:
            peek_at(seqmq_fuzz::field_reader(s.bytes).u8());
            break;
        case action::list:
            list_and_stat();
            break;
        case action::read:
            connect(c);
            read_notices(c);
            break;
        case action::hang_up:
            if (avoid_known_finding)
                read_notices(c);
            c = raw_sender{};
            break;
        case action::handle: {
            const int fd = box_->native_handle();
            SEQMQ_FUZZ_EXPECT(fd >= 0);
            pollfd p{fd, POLLIN, 0};
            SEQMQ_FUZZ_EXPECT(::poll(&p, 1, 0) >= 0);
            break;
        }
        }
    }

    void finish() {
        list_and_stat();
        for (raw_sender& c : senders_)
            read_notices(c);
    }

private:
    void connect(raw_sender& c) {
        if (c.connected)
            return;
        c = raw_sender{};
        c.connected = true;
        c.fd.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        SEQMQ_FUZZ_EXPECT(c.fd);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        const std::string& name = where_.name();
        std::memcpy(sun.sun_path + 1, name.data(), name.size());
        const auto len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
        SEQMQ_FUZZ_EXPECT(::connect(c.fd.get(), reinterpret_cast<sockaddr*>(&sun), len) == 0);
    }

    void send(raw_sender& c, std::span<const std::byte> record) {
        connect(c);
        if (::send(c.fd.get(), record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            return; // a full socket buffer (the mailbox stopped reading), or cut
        if (auto h = decode(record, record.size()); h && h->sequence == c.next_sequence)
            c.next_sequence += h->kind == frame_kind::data_batch ? std::uint64_t(h->type) : 1;
    }

    void send_framed(raw_sender& c, std::uint8_t kind, std::int64_t type,
                     std::span<const std::byte> payload) {
        connect(c);
        std::vector<std::byte> r(frame_header::size);
        r.insert(r.end(), payload.begin(), payload.end());
        const auto k = kind >= 1 && kind <= 4 ? frame_kind(kind) : frame_kind::data;
        encode(frame_header{k, std::uint32_t(payload.size()), c.next_sequence, type},
               std::span(r).first<frame_header::size>());
        send(c, r);
    }

    void read_notices(raw_sender& c) {
        if (!c.connected)
            return;
        for (bool reset_seen = false;;) {
            std::array<std::byte, 256> buf;
            const ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
            if (n < 0 && errno == ECONNRESET && !std::exchange(reset_seen, true))
                continue; // reported once, ahead of what is still queued
            if (n <= 0)
                return; // nothing more, or the mailbox closed it
            SEQMQ_FUZZ_EXPECT(std::size_t(n) <= buf.size());
            auto notice = decode_notice(std::span(buf.data(), std::size_t(n)));
            SEQMQ_FUZZ_EXPECT(notice.has_value());
            if (seqmq_fuzz::tracing())
                std::fprintf(stderr, "sender %zu: notice %lld (%llu, %llu)\n",
                             std::size_t(&c - senders_.data()), (long long)notice->op,
                             (unsigned long long)notice->first, (unsigned long long)notice->second);
            if (notice->op == mailbox_control::hello) {
                SEQMQ_FUZZ_EXPECT(notice->first == options_.max_message_size);
                SEQMQ_FUZZ_EXPECT(notice->second == options_.capacity);
            } else {
                SEQMQ_FUZZ_EXPECT(notice->op == mailbox_control::closing);
                // A cut (a malformed record, an over-size one), or a refusal.
                SEQMQ_FUZZ_EXPECT(notice->first == EPROTO || notice->first == EMSGSIZE ||
                                  notice->first == EUSERS || notice->first == EACCES);
                SEQMQ_FUZZ_EXPECT(notice->second == options_.max_message_size);
            }
        }
    }

    void check_message(const seqmq::selector& which, long type, std::size_t size,
                       pid_t sender) const {
        SEQMQ_FUZZ_EXPECT(type >= 1);
        SEQMQ_FUZZ_EXPECT(which.admits(type));
        SEQMQ_FUZZ_EXPECT(size <= options_.max_message_size);
        SEQMQ_FUZZ_EXPECT(sender == ::getpid());
    }

    // A receive that never waits: nowait, or a wait of 0 ms (which takes the waiting paths).
    static seqmq::timeout limit(bool wait_zero) {
        return wait_zero ? seqmq::timeout(std::chrono::milliseconds(0)) : std::nullopt;
    }
    static seqmq::receive_flags nowait_unless(bool wait_zero) {
        return wait_zero ? seqmq::receive_flags::none : seqmq::receive_flags::nowait;
    }
    static bool nothing(const std::error_code& e, bool wait_zero) {
        return e == (wait_zero ? std::errc::timed_out : std::errc::no_message);
    }

    void receive_owned(seqmq::selector which, bool wait_zero) {
        auto got = box_->receive(which, nowait_unless(wait_zero), limit(wait_zero));
        if (!got) {
            SEQMQ_FUZZ_EXPECT(nothing(got.error(), wait_zero));
            return;
        }
        check_message(which, got->type, got->data.size(), got->sender_pid);
    }

    void receive(seqmq::selector which, bool noerror, std::size_t buffer, bool peek_first,
                 bool wait_zero) {
        std::optional<seqmq::message> peeked;
        if (peek_first) {
            auto p = box_->peek(which);
            SEQMQ_FUZZ_EXPECT(p || p.error() == std::errc::no_message);
            if (p) {
                check_message(which, p->type, p->data.size(), p->sender_pid);
                peeked = std::move(*p);
            }
        }
        std::vector<std::byte> out(buffer);
        const auto flags = nowait_unless(wait_zero) |
                           (noerror ? seqmq::receive_flags::noerror : seqmq::receive_flags::none);
        auto got = box_->receive(std::span(out), which, flags, limit(wait_zero));
        if (seqmq_fuzz::tracing())
            std::fprintf(stderr, "receive(%ld%s, buffer %zu%s): %s\n", which.type,
                         which.except ? " except" : "", buffer, noerror ? ", noerror" : "",
                         got ? ("type " + std::to_string(got->type) + ", " +
                                std::to_string(got->size) + " of " +
                                std::to_string(got->untruncated_size) + " bytes")
                                   .c_str()
                             : got.error().message().c_str());
        if (!got) {
            const auto e = got.error();
            SEQMQ_FUZZ_EXPECT(nothing(e, wait_zero) || e == std::errc::argument_list_too_long);
            if (e == std::errc::argument_list_too_long)
                SEQMQ_FUZZ_EXPECT(!noerror);
            if (peeked) { // the message peek showed is what the receive refused
                SEQMQ_FUZZ_EXPECT(e == std::errc::argument_list_too_long);
                SEQMQ_FUZZ_EXPECT(peeked->data.size() > buffer);
            }
            return;
        }
        check_message(which, got->type, got->untruncated_size, got->sender_pid);
        SEQMQ_FUZZ_EXPECT(got->size == std::min(got->untruncated_size, buffer));
        SEQMQ_FUZZ_EXPECT(got->untruncated_size <= buffer || noerror);
        if (peeked) {
            SEQMQ_FUZZ_EXPECT(got->type == peeked->type);
            SEQMQ_FUZZ_EXPECT(got->untruncated_size == peeked->data.size());
            SEQMQ_FUZZ_EXPECT(got->size == 0 ||
                              std::memcmp(out.data(), peeked->data.data(), got->size) == 0);
        }
    }

    void peek_at(std::size_t position) {
        auto m = box_->peek_at(position);
        auto all = box_->list();
        SEQMQ_FUZZ_EXPECT(all.has_value());
        if (!m) {
            SEQMQ_FUZZ_EXPECT(m.error() == std::errc::no_message);
            SEQMQ_FUZZ_EXPECT(position >= all->size());
            return;
        }
        SEQMQ_FUZZ_EXPECT(position < all->size());
        const seqmq::message_info& i = (*all)[position];
        SEQMQ_FUZZ_EXPECT(m->type == i.type && m->data.size() == i.size &&
                          m->arrival == i.arrival && m->sender_pid == i.sender_pid);
    }

    void list_and_stat() {
        auto all = box_->list();
        SEQMQ_FUZZ_EXPECT(all.has_value());
        auto st = box_->stat();
        SEQMQ_FUZZ_EXPECT(st.has_value());
        if (seqmq_fuzz::tracing())
            std::fprintf(stderr, "list: %zu messages, %zu bytes, %zu connections, %llu cut\n",
                         all->size(), st->bytes, st->connections,
                         (unsigned long long)st->protocol_errors);
        SEQMQ_FUZZ_EXPECT(st->count == all->size());
        std::size_t bytes = 0;
        std::uint64_t last_arrival = 0;
        for (const seqmq::message_info& m : *all) {
            check_message(seqmq::selector::any(), m.type, m.size, m.sender_pid);
            SEQMQ_FUZZ_EXPECT(m.arrival > last_arrival);
            last_arrival = m.arrival;
            bytes += m.size;
        }
        SEQMQ_FUZZ_EXPECT(st->bytes == bytes);
        SEQMQ_FUZZ_EXPECT(st->bytes <= st->capacity);
        SEQMQ_FUZZ_EXPECT(st->capacity == options_.capacity);
        SEQMQ_FUZZ_EXPECT(st->max_message_size == options_.max_message_size);
        SEQMQ_FUZZ_EXPECT(st->connections <= options_.max_connections);
        SEQMQ_FUZZ_EXPECT(st->protocol_errors >= protocol_errors_);
        protocol_errors_ = st->protocol_errors;
    }

    seqmq::address where_;
    seqmq::mailbox_options options_ = small_mailbox();
    std::array<raw_sender, senders> senders_;
    std::uint64_t protocol_errors_ = 0;
    std::optional<seqmq::mailbox> box_; // last: closed before the senders
};

const seqmq_fuzz::descriptor_watch* watch = nullptr;
std::optional<seqmq::address> where;

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // One name per process, so that parallel jobs (-jobs, -fork) do not meet.
    auto a = seqmq::address::unix_abstract("seqmq-fuzz-mailbox." + std::to_string(::getpid()));
    SEQMQ_FUZZ_EXPECT(a.has_value());
    where = *a;
    static const seqmq_fuzz::descriptor_watch w;
    watch = &w;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    {
        harness h(*where);
        seqmq_fuzz::step_reader steps(data, size);
        while (auto s = steps.next())
            h.run(*s);
        h.finish();
    }
    watch->expect_none_leaked();
    return 0;
}
