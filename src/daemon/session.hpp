// The session layer of seqmqd: a client's connection, the records it sends (frame checks and
// sequence numbers), the replies and notices it is sent (with the backlog the socket could not
// take yet, bounded per client and in all), and freeing it later, once the turn is over.
#pragma once

#include "access/caller_credentials.hpp"
#include "daemon/model/hosted_queue.hpp"
#include "daemon/transit.hpp"
#include "sys/fd.hpp"
#include "transport/transport.hpp"
#include "wire/daemon_protocol.hpp"
#include "wire/frame.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace seqmq::daemon {

/// One client connection.
struct session {
    detail::unique_fd fd;
    detail::peer_identity peer;
    /// Who makes the request being served: the ids its record carried (SCM_CREDENTIALS), else
    /// those of `at_connect`; see session_table::identify().
    model::credentials who;
    model::credentials at_connect; ///< SO_PEERCRED and SO_PEERGROUPS at connect
    bool identity_changed = false; ///< `who` changed with the record being served
    const detail::transport* via = nullptr;
    std::uint64_t next_sequence = 1;
    model::hosted_queue* queue = nullptr; ///< bound by `open`
    bool queue_removed = false;           ///< ... and removed since
    model::queue_usage credit{};          ///< room reserved for sends on credit
    bool revoke_pending = false;          ///< asked to give its credit back
    bool sent_in_batch = false;           ///< sent this turn: top its credit up after
    bool sends = false;                   ///< has sent: room that appears goes to it as credit
    bool no_credit = false;               ///< opened with open_no_credit: never granted any
    std::size_t pending = 0;              ///< parked receives and sends
    bool attached = false;                ///< holds the queue's delivery socket
    std::uint64_t fast_buffer = 0;        ///< ... and takes from it with a buffer this large
    bool waits_on_delivery = false;       ///< blocked on it, as far as the daemon knows
    transit_queue transit;
    std::deque<std::vector<std::byte>> out; ///< replies the socket could not take yet
    std::size_t out_bytes = 0;
    bool want_out = false;
    bool dead = false;         ///< to be freed at the end of the turn
    bool write_closed = false; ///< a send to it failed (EPIPE): read what it sent, reply nothing
    bool held = false;         ///< has records held until the turn's commit (hold_replies)
};

/// Limits of the session layer (seqmqd flags).
struct session_limits {
    std::size_t max_clients = 1024;
    std::size_t max_output = 8u << 20;        ///< unread reply bytes of one client
    std::size_t max_output_total = 64u << 20; ///< ... of all clients together
};

/// Logs at most `burst` lines per second, then one line saying how many it left out.
class log_limiter {
public:
    explicit log_limiter(unsigned burst) : burst_(burst) {}
    /// Whether to log this line; `suppressed` is set to how many were left out before it.
    bool allow(std::uint64_t& suppressed);

private:
    unsigned burst_;
    unsigned in_window_ = 0;
    std::uint64_t suppressed_ = 0;
    std::chrono::steady_clock::time_point window_{};
};

/// " (N such lines left out)" after a rate-limited line, or nothing.
std::string lines_left_out(std::uint64_t n);

/// Every session, the poller they are registered with, and the records sent to them.
class session_table {
public:
    session_table(const session_limits& limits, int poller) : limits_(limits), poller_(poller) {}
    ~session_table();

    /// Registers an accepted connection; nullptr (and the connection closed, told EUSERS) past
    /// max_clients or if epoll refuses it.
    session* add(detail::unique_fd fd, const detail::transport* via);

    /// Tells a connection that is not taken on why (a closing notice), without waiting.
    void refuse(int fd, int reason) { closing_notice(fd, reason); }

    /// Sends one record (finished here), or queues it behind what the socket could not take
    /// yet. False if the client is gone, or its socket refuses writes for good (EPIPE: the
    /// record was not delivered; the session stays until what the client sent is read).
    bool deliver(session& c, std::vector<std::byte>& record);
    /// As deliver(), with a file descriptor passed along (SCM_RIGHTS). A record with a
    /// descriptor cannot wait behind others: if some wait, or the socket is full, the client is
    /// answered EAGAIN instead (the record's opcode and sequence kept). True if the record
    /// and the descriptor went.
    bool deliver_with_descriptor(session& c, std::vector<std::byte>& record, int fd);
    /// Sends what was queued, as the socket takes it.
    void flush(session& c);
    /// From now on, records are queued rather than sent, until release_held(): the replies of
    /// a turn wait for its commit to the state directory (group commit).
    void hold_replies() noexcept { holding_ = true; }
    /// Sends every record held (as far as the sockets take them), and sends at once again.
    void release_held();
    /// A notice (sequence 0) with an empty body.
    void notice(session& c, detail::proto::opcode op);

    /// Cuts a client for a malformed record: counted, logged (rate-limited), told EPROTO.
    void fault(session& c, std::string_view why);
    /// Marks c to be freed at the end of the turn (its events are ignored from now on).
    void free_client_later(session& c);

    /// Checks one record c sent: its header, its sequence, its size. The header, or nullopt
    /// once c is cut. `longer`: the record did not fit its read slot.
    std::optional<detail::frame_header> check(session& c, std::span<const std::byte> record,
                                              bool longer, std::size_t max_request,
                                              std::size_t max_message_size);

    /// Takes the identity of the record c sent (`ids`, from its SCM_CREDENTIALS; nullopt:
    /// none came, as from TIPC: the connect-time identity stays) into c.who, for the records
    /// proto::carries_identity() names. Groups: those of connect time while the ids are the
    /// connect-time ones, else /proc/PID/status's, read once per change. Sets
    /// c.identity_changed when they differ from the last. True (the record is served).
    bool identify(session& c, const std::optional<detail::caller_ids>& ids);

    /// Frees up to `most` clients marked by free_client_later(), calling `forget(c)` for each
    /// first. True if some are left for the next turn.
    template <class Forget>
    bool sweep(std::size_t most, Forget forget) {
        while (!doomed_.empty() && most-- > 0) {
            session* c = doomed_.back();
            doomed_.pop_back();
            forget(*c);
            remove(*c);
        }
        return !doomed_.empty();
    }

    std::size_t size() const noexcept { return sessions_.size(); }
    std::uint64_t protocol_errors() const noexcept { return protocol_errors_; }
    std::size_t output_bytes() const noexcept { return out_total_; }

private:
    void writes_failed(session& c);
    void update_events(session& c);
    void closing_notice(int fd, int reason);
    void remove(session& c);

    session_limits limits_;
    int poller_;
    std::unordered_map<session*, std::unique_ptr<session>> sessions_;
    std::vector<session*> doomed_;
    bool holding_ = false;
    std::vector<session*> held_;
    std::uint64_t protocol_errors_ = 0;
    std::size_t out_total_ = 0;
    log_limiter cut_lines_{20};
    std::vector<std::byte> notice_; // notices are built here, apart from replies being built
};

/// Untrusted text (queue names, reasons) as it goes into a log line: quoted, with every
/// control character escaped, so that it cannot forge a line.
std::string log_text(std::string_view s);

} // namespace seqmq::daemon
