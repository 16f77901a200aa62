#pragma once

#include <seqmq/address.hpp>
#include <seqmq/error.hpp>
#include <seqmq/message.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <sys/types.h>
#include <vector>

namespace seqmq {

/// Limits of a mailbox. The defaults are Linux's msgmax and msgmnb.
struct mailbox_options {
    /// Bytes of payload the queue holds (msg_qbytes). Once full, the mailbox stops reading and
    /// senders wait on their socket buffers: nothing is dropped.
    std::size_t capacity = 16384;
    /// Largest payload accepted (msgmax). At most 66000 - 24 on TIPC.
    std::size_t max_message_size = 8192;
    /// Most sender connections at once; a further one is refused (accepted, told EUSERS and
    /// closed: its sends fail with EUSERS, "too many users"), never an older one dropped.
    std::size_t max_connections = 1024;
    /// Who may send, as the kernel's ipcperms() decides msgsnd's access: each sender's
    /// credentials (SO_PEERCRED, SO_PEERGROUPS) against `owner_uid`/`owner_gid` and the write
    /// bits of `mode` (0200 owner, 0020 group, 0002 other); uid 0 passes. A refused sender is
    /// told EACCES and cut (counted in mailbox_stat::refused_access): what it sent before the
    /// mailbox looked at its connection is discarded, and its sends fail with EACCES from then
    /// on. TIPC senders carry no credentials: they are "other". std::nullopt: the default of the
    /// address — 0600 (owner only) on unix:@name, where anyone could otherwise connect; 0666 on
    /// unix:/path (the socket file's mode, from the umask, already decides who may connect) and
    /// on TIPC (no credentials: say 0600 there and no TIPC sender gets in).
    std::optional<unsigned> mode;
    /// The owner for that check; std::nullopt: the effective uid (gid) of the opening process.
    std::optional<uid_t> owner_uid;
    std::optional<gid_t> owner_gid;
    /// listen() backlog.
    int backlog = 128;
    /// unix:/path only: replace a stale socket file left by a process that died.
    bool replace_stale = true;
    /// Opt-in: before a receive goes to sleep, poll for this long without sleeping. Trades CPU
    /// (one core busy while spinning) for the wake-up latency of a sleeping receiver.
    std::chrono::microseconds spin{0};
    /// While exactly one sender is connected, a receive that has to wait first blocks in recv()
    /// on that sender's socket for up to this long — one system call per message, as on a raw
    /// socket — and only then waits on every socket (epoll_wait, then recv). The price: a
    /// sender connecting meanwhile is noticed up to this much (plus one kernel tick) later,
    /// however fast the first one sends: every socket is looked at at least once per
    /// direct_wait. 0 turns it off.
    std::chrono::microseconds direct_wait{1000};
};

/// What IPC_STAT reports about a mailbox, plus seqmq's own counters.
struct mailbox_stat {
    std::size_t count = 0;    ///< msg_qnum
    std::size_t bytes = 0;    ///< msg_cbytes
    std::size_t capacity = 0; ///< msg_qbytes
    std::size_t max_message_size = 0;
    pid_t last_send_pid = 0;    ///< msg_lspid: sender of the newest arrival
    pid_t last_receive_pid = 0; ///< msg_lrpid: always the owner
    /// msg_stime and msg_rtime, to the kernel tick (a few ms; SysV keeps whole seconds)
    std::chrono::system_clock::time_point last_send_time{};    ///< msg_stime
    std::chrono::system_clock::time_point last_receive_time{}; ///< msg_rtime
    std::chrono::system_clock::time_point change_time{};       ///< msg_ctime: open time
    std::size_t connections = 0;
    std::uint64_t protocol_errors = 0; ///< connections cut for malformed records
    std::uint64_t refused_access = 0;  ///< senders refused by mailbox_options::mode (EACCES)
    std::uint64_t refused_limit = 0;   ///< connections refused past max_connections (EUSERS)
    unsigned mode = 0;                 ///< who may send, as resolved (mailbox_options::mode)
    uid_t owner_uid = 0;
    gid_t owner_gid = 0;
};

/// A queue owned by its receiving process, bound to an address. Any number of senders connect;
/// the owner receives with msgrcv's selector rules, and may peek and list without taking.
/// Not thread-safe: one thread uses a mailbox at a time. Move-only.
class mailbox {
public:
    /// Binds `where` and listens. `auto:` addresses are resolved first.
    /// Errors: address_in_use if another mailbox has the address; backend_unavailable for TIPC on
    /// a kernel without it; invalid_argument if max_message_size is 0 or above the transport's
    /// limit, or capacity < max_message_size; otherwise the errno of socket/bind/listen.
    static result<mailbox> open(const address& where, const mailbox_options& options = {});

    mailbox(mailbox&&) noexcept;
    mailbox& operator=(mailbox&&) noexcept;
    ~mailbox();

    /// Takes the first message that `which` selects, writing its payload into `buffer`.
    /// Errors: no_message with nowait and nothing matching; timed_out when `limit` passes;
    /// argument_list_too_long (E2BIG) when the message is longer than `buffer` and noerror is not
    /// given — the message stays queued; interrupted if a signal arrives while waiting.
    result<received> receive(std::span<std::byte> buffer, selector which = {},
                             receive_flags flags = receive_flags::none, timeout limit = {});

    /// As above, returning an owned copy (never truncates).
    /// Errors: no_message, timed_out, interrupted.
    result<message> receive(selector which = {}, receive_flags flags = receive_flags::none,
                            timeout limit = {});

    /// Copies the first message `which` selects, leaving it queued. Never waits.
    /// Errors: no_message if nothing matches.
    result<message> peek(selector which = {});

    /// Copies the message at `position` in arrival order (0 = oldest), leaving it queued; as
    /// msgrcv's MSG_COPY. Errors: no_message if fewer messages are waiting.
    result<message> peek_at(std::size_t position);

    /// Every waiting message, oldest first, without taking any. O(n) in the backlog.
    /// Errors: only those of reading the sockets (none in normal operation).
    result<std::vector<message_info>> list();

    /// Counts and times, as IPC_STAT. Reads what senders have sent first, so counts are current.
    result<mailbox_stat> stat();

    /// A descriptor for poll/epoll: readable while a receive could make progress (a message is
    /// queued, or a sender or connection needs attention). Owned by the mailbox.
    int native_handle() const noexcept;

    /// The address the mailbox is bound to (auto: resolved).
    const address& bound_address() const noexcept;

    struct impl;

private:
    explicit mailbox(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> impl_;
};

} // namespace seqmq
