// A raw SEQPACKET connection to a test's seqmqd that speaks (or, on purpose, does not speak)
// the daemon's protocol by hand: for the tests that need what seqmq::queue never does — bad
// records, receives left unacknowledged, replies left unread.
#pragma once

#include "daemon_fixture.hpp"

#include "wire/daemon_protocol.hpp"
#include "wire/frame.hpp"

#include <optional>
#include <poll.h>

namespace daemon_test {

namespace proto = seqmq::detail::proto;

class raw_client {
public:
    explicit raw_client(const daemon_process& d) {
        fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, d.socket_path().c_str(), sizeof sun.sun_path - 1);
        BOOST_TEST_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    }
    ~raw_client() { ::close(fd_); }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    void send_bytes(const std::vector<std::byte>& r) {
        BOOST_TEST_REQUIRE(::send(fd_, r.data(), r.size(), MSG_NOSIGNAL) == ssize_t(r.size()));
    }

    // A well-formed record with the next sequence number.
    void request(proto::opcode op, const std::vector<std::byte>& body,
                 seqmq::detail::frame_kind kind = seqmq::detail::frame_kind::control_request) {
        auto r = proto::start_record(kind, std::int64_t(op), seq_++);
        r.insert(r.end(), body.begin(), body.end());
        send_bytes(proto::finish_record(r));
    }

    // As request(), with SCM_CREDENTIALS `cred` attached: 0, or sendmsg's errno (the kernel
    // refuses ids the process may not claim with EPERM); the sequence number is used only
    // when the record went.
    int request_as(proto::opcode op, const std::vector<std::byte>& body, const ucred& cred) {
        return record_as(seqmq::detail::frame_kind::control_request, std::int64_t(op), body, cred);
    }
    // Any record (`kind`, `type`) so.
    int record_as(seqmq::detail::frame_kind kind, std::int64_t type,
                  const std::vector<std::byte>& body, const ucred& cred) {
        auto r = proto::start_record(kind, type, seq_);
        r.insert(r.end(), body.begin(), body.end());
        proto::finish_record(r);
        iovec iov{r.data(), r.size()};
        alignas(cmsghdr) std::byte control[CMSG_SPACE(sizeof(ucred))]{};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof(ucred));
        std::memcpy(CMSG_DATA(c), &cred, sizeof cred);
        if (::sendmsg(fd_, &m, MSG_NOSIGNAL) != ssize_t(r.size()))
            return errno;
        ++seq_;
        return 0;
    }

    // The errno of an `open` of `name` with `flags` and `mode` (0: opened), sent without
    // credentials attached, or with `cred`.
    int open_result(const std::string& name, std::uint32_t flags, std::uint32_t mode,
                    const ucred* cred = nullptr) {
        std::vector<std::byte> body;
        proto::writer w(body);
        proto::encode(w, proto::open_request{flags, mode, 0, 0, name});
        if (cred) {
            if (int e = request_as(proto::opcode::open, body, *cred))
                return e;
        } else {
            request(proto::opcode::open, body);
        }
        auto r = next();
        BOOST_TEST_REQUIRE(r.size() >= seqmq::detail::frame_header::size + 8);
        return result_of(r);
    }

    // Opens (creating if need be) `name`; a queue this creates gets `capacity` (0: the
    // daemon's default).
    void open(const std::string& name, std::uint64_t capacity = 0) {
        std::vector<std::byte> body;
        proto::writer w(body);
        proto::encode(w, proto::open_request{proto::open_create, 0600, capacity, 0, name});
        request(proto::opcode::open, body);
        auto r = next();
        BOOST_TEST_REQUIRE(r.size() >= seqmq::detail::frame_header::size + 8);
        BOOST_TEST_REQUIRE(result_of(r) == 0);
    }

    // Acknowledges the oldest message handed over (no reply).
    void ack(std::uint64_t arrival) {
        std::vector<std::byte> b;
        proto::writer(b).u64(arrival);
        request(proto::opcode::ack, b);
    }

    // Waits until the daemon has served every earlier record of this connection.
    void sync() {
        request(proto::opcode::sync, {});
        auto r = next();
        BOOST_TEST_REQUIRE(opcode_of(r) == std::int64_t(proto::opcode::sync));
        BOOST_TEST_REQUIRE(result_of(r) == 0);
    }

    // Whether the daemon serves this connection: false if it refused or cut it instead of
    // answering a sync.
    bool served() {
        auto r = proto::start_record(seqmq::detail::frame_kind::control_request,
                                     std::int64_t(proto::opcode::sync), seq_);
        proto::finish_record(r);
        if (::send(fd_, r.data(), r.size(), MSG_NOSIGNAL) != ssize_t(r.size()))
            return false;
        ++seq_;
        auto reply = next();
        return opcode_of(reply) == std::int64_t(proto::opcode::sync) && result_of(reply) == 0;
    }

    // The next record from the daemon; empty at end of stream or after 10 s.
    std::vector<std::byte> next() {
        pollfd pf{fd_, POLLIN, 0};
        if (::poll(&pf, 1, 10000) <= 0)
            return {};
        std::vector<std::byte> buf(256 * 1024);
        ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        buf.resize(n > 0 ? std::size_t(n) : 0);
        return buf;
    }

    static int result_of(const std::vector<std::byte>& r) {
        proto::reader rd{std::span<const std::byte>(r).subspan(seqmq::detail::frame_header::size)};
        return proto::decode_result(rd).value_or(-1);
    }

    // The header's type: the opcode a reply answers, or the notice; -1 if malformed.
    static std::int64_t opcode_of(const std::vector<std::byte>& r) {
        auto h = seqmq::detail::decode(r, r.size());
        return h ? h->type : -1;
    }

    // What follows the result of a successful reply.
    static proto::reader body_of(const std::vector<std::byte>& r) {
        return proto::reader{
            std::span<const std::byte>(r).subspan(seqmq::detail::frame_header::size + 8)};
    }

    // Reads until end of stream; true if the daemon closed the connection, after saying why.
    bool closed_with(int reason) {
        bool told = false;
        for (int i = 0; i < 16; ++i) {
            auto r = next();
            if (r.empty())
                return told;
            auto h = seqmq::detail::decode(r, r.size());
            if (h && h->type == std::int64_t(proto::opcode::closing)) {
                proto::reader rd{
                    std::span<const std::byte>(r).subspan(seqmq::detail::frame_header::size)};
                told = rd.i32() == reason;
            }
        }
        return false;
    }

    std::uint64_t seq_ = 1;

private:
    int fd_ = -1;
};

} // namespace daemon_test
