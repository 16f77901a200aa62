#include "daemon/session.hpp"

#include "log.hpp"
#include "sys/syscall.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>

namespace seqmq::daemon {

using namespace seqmq::detail;
namespace p = seqmq::detail::proto;

std::string log_text(std::string_view s) {
    return fmt::format("{:?}", s);
}

std::string lines_left_out(std::uint64_t n) {
    return n ? fmt::format(" ({} such lines left out)", n) : std::string();
}

bool log_limiter::allow(std::uint64_t& suppressed) {
    const auto now = std::chrono::steady_clock::now();
    if (now - window_ >= std::chrono::seconds(1)) {
        window_ = now;
        in_window_ = 0;
    }
    if (in_window_ >= burst_) {
        ++suppressed_;
        return false;
    }
    ++in_window_;
    suppressed = std::exchange(suppressed_, 0);
    return true;
}

session_table::~session_table() {
    for (auto& [_, c] : sessions_)
        c->via->close_connection(std::move(c->fd));
}

session* session_table::add(unique_fd fd, const transport* via) {
    if (sessions_.size() >= limits_.max_clients) {
        if (std::uint64_t left_out = 0; cut_lines_.allow(left_out))
            log().warn("refused a connection: {} clients is the limit (--max-clients){}",
                       limits_.max_clients, lines_left_out(left_out));
        closing_notice(fd.get(), EUSERS);
        via->close_connection(std::move(fd));
        return nullptr;
    }
    auto c = std::make_unique<session>();
    c->fd = std::move(fd);
    c->via = via;
    c->peer = via->peer(c->fd.get());
    c->at_connect = credentials_of(c->fd.get(), c->peer.has_credentials, c->peer.uid, c->peer.gid);
    c->who = c->at_connect;
    // Each record then carries its sender's ids of that moment, as the kernel checked them.
    if (via->carries_credentials() && !pass_credentials(c->fd.get()))
        log().warn("client pid {}: SO_PASSCRED: {}; its connect-time identity is used for every "
                   "request",
                   c->peer.pid, last_error().message());
    if (c->who.known) {
        if (!c->who.groups)
            log().warn("client pid {} uid {}: its groups are unknown (SO_PEERGROUPS: {}); group "
                       "bits grant it only what other bits grant too",
                       c->peer.pid, c->peer.uid, last_error().message());
    }
    epoll_event ev{EPOLLIN, {.u64 = reinterpret_cast<std::uintptr_t>(c.get())}};
    if (::epoll_ctl(poller_, EPOLL_CTL_ADD, c->fd.get(), &ev) < 0) {
        log().warn("epoll_ctl: {}", last_error().message());
        return nullptr;
    }
    log().debug("client pid {} uid {} connected", c->peer.pid, c->peer.uid);
    session* key = c.get();
    sessions_.emplace(key, std::move(c));
    return key;
}

bool session_table::identify(session& c, const std::optional<caller_ids>& ids) {
    if (!ids || !c.who.known || (ids->uid == c.who.uid && ids->gid == c.who.gid))
        return true;
    const caller_ids connect_ids{c.peer.pid, c.peer.uid, c.peer.gid};
    if (ids->uid == connect_ids.uid && ids->gid == connect_ids.gid) {
        c.who = c.at_connect;
    } else {
        c.who.uid = ids->uid;
        c.who.gid = ids->gid;
        c.who.groups = groups_of_process(*ids); // nullopt: group bits fail closed
    }
    c.identity_changed = true;
    log().debug("client pid {}: now uid {} gid {}", c.peer.pid, c.who.uid, c.who.gid);
    return true;
}

void session_table::update_events(session& c) {
    epoll_event ev{EPOLLIN | (c.want_out ? EPOLLOUT : 0u),
                   {.u64 = reinterpret_cast<std::uintptr_t>(&c)}};
    ::epoll_ctl(poller_, EPOLL_CTL_MOD, c.fd.get(), &ev);
}

// A send to the client failed for good (EPIPE: it closed, or died). Its socket may still hold
// records it sent before — sends on credit that returned to it, which are committed — so the
// session stays until reading reaches the end of the stream; only its output goes.
void session_table::writes_failed(session& c) {
    log().debug("client pid {}: send: {}; reading what it sent before", c.peer.pid,
                last_error().message());
    c.write_closed = true;
    out_total_ -= c.out_bytes;
    c.out_bytes = 0;
    c.out.clear();
    if (c.want_out) {
        c.want_out = false;
        update_events(c);
    }
}

bool session_table::deliver(session& c, std::vector<std::byte>& record) {
    if (c.dead || c.write_closed)
        return false;
    p::finish_record(record);
    if (holding_ && !c.held) {
        c.held = true;
        held_.push_back(&c);
    }
    if (c.out.empty() && !holding_) {
        ssize_t n = retry_eintr([&] {
            return ::send(c.fd.get(), record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        });
        if (n >= 0)
            return true;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            writes_failed(c);
            return false;
        }
    }
    c.out_bytes += record.size();
    out_total_ += record.size();
    c.out.emplace_back(record.begin(), record.end()); // a copy: `record` is reused
    const bool over_total = out_total_ > limits_.max_output_total;
    if (c.out_bytes > limits_.max_output || over_total) {
        std::uint64_t left_out = 0;
        if (cut_lines_.allow(left_out))
            log().warn("client pid {}: cut: {} bytes of replies unread ({}){}", c.peer.pid,
                       c.out_bytes, over_total ? "--max-output-total" : "--max-output",
                       lines_left_out(left_out));
        free_client_later(c);
        return true; // it reached the client's connection; transit covers it
    }
    if (!c.want_out && !c.held) {
        c.want_out = true;
        update_events(c);
    }
    return true;
}

void session_table::release_held() {
    holding_ = false;
    for (session* c : held_) {
        c->held = false;
        if (c->dead || c->write_closed)
            continue;
        flush(*c);
        if (!c->out.empty() && !c->want_out && !c->dead) {
            c->want_out = true;
            update_events(*c);
        }
    }
    held_.clear();
}

bool session_table::deliver_with_descriptor(session& c, std::vector<std::byte>& record, int fd) {
    if (c.dead || c.write_closed)
        return false;
    p::finish_record(record);
    if (c.out.empty()) {
        iovec iov{record.data(), record.size()};
        alignas(cmsghdr) std::byte control[CMSG_SPACE(sizeof(int))]{};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        cmsghdr* cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        if (retry_eintr([&] { return ::sendmsg(c.fd.get(), &m, MSG_DONTWAIT | MSG_NOSIGNAL); }) >=
            0)
            return true;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            writes_failed(c);
            return false;
        }
    }
    frame_header h = *decode_prefix(record);
    p::start_reply(record, static_cast<p::opcode>(h.type), h.sequence, EAGAIN);
    deliver(c, record);
    return false;
}

void session_table::flush(session& c) {
    if (c.held)
        return; // after the turn's commit (release_held)
    while (!c.out.empty()) {
        auto& r = c.out.front();
        ssize_t n = retry_eintr(
            [&] { return ::send(c.fd.get(), r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL); });
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                writes_failed(c);
            return;
        }
        c.out_bytes -= r.size();
        out_total_ -= r.size();
        c.out.pop_front();
    }
    c.want_out = false;
    update_events(c);
}

void session_table::notice(session& c, p::opcode op) {
    p::start_record(notice_, frame_kind::control_reply, std::int64_t(op), 0);
    deliver(c, notice_);
}

void session_table::closing_notice(int fd, int reason) {
    p::start_record(notice_, frame_kind::control_reply, std::int64_t(p::opcode::closing), 0);
    p::writer(notice_).i32(reason).u32(0);
    p::finish_record(notice_);
    (void)retry_eintr(
        [&] { return ::send(fd, notice_.data(), notice_.size(), MSG_DONTWAIT | MSG_NOSIGNAL); });
}

void session_table::free_client_later(session& c) {
    if (!c.dead) {
        c.dead = true;
        doomed_.push_back(&c);
    }
}

void session_table::fault(session& c, std::string_view why) {
    if (c.dead)
        return;
    ++protocol_errors_;
    std::uint64_t left_out = 0;
    if (cut_lines_.allow(left_out))
        log().warn("client pid {} uid {}: cut the connection: {}{}", c.peer.pid, c.peer.uid,
                   log_text(why), lines_left_out(left_out));
    closing_notice(c.fd.get(), EPROTO);
    free_client_later(c);
}

std::optional<frame_header> session_table::check(session& c, std::span<const std::byte> record,
                                                 bool longer, std::size_t max_request,
                                                 std::size_t max_message_size) {
    if (record.empty()) { // end of stream (a zero-length record is no request either)
        free_client_later(c);
        return std::nullopt;
    }
    if (longer) {
        fault(c, "record longer than the largest request");
        return std::nullopt;
    }
    auto h = decode(record, max_request);
    if (!h) {
        fault(c, to_string(h.error()));
        return std::nullopt;
    }
    if (h->sequence != c.next_sequence) {
        fault(c, to_string(frame_fault::bad_sequence));
        return std::nullopt;
    }
    ++c.next_sequence;
    if ((h->kind == frame_kind::data || h->kind == frame_kind::data_batch) &&
        h->length > max_message_size) {
        fault(c, to_string(frame_fault::too_long));
        return std::nullopt;
    }
    if (h->kind == frame_kind::data_batch)
        c.next_sequence += std::uint64_t(h->type) - 1; // a batch takes one per message
    else if (h->kind != frame_kind::data && h->kind != frame_kind::control_request) {
        fault(c, to_string(frame_fault::unexpected_kind));
        return std::nullopt;
    }
    return *h;
}

void session_table::remove(session& c) {
    if (c.held)
        std::erase(held_, &c);
    out_total_ -= c.out_bytes;
    ::epoll_ctl(poller_, EPOLL_CTL_DEL, c.fd.get(), nullptr);
    c.via->close_connection(std::move(c.fd));
    log().debug("client pid {} gone", c.peer.pid);
    sessions_.erase(&c);
}

} // namespace seqmq::daemon
