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
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace seqmq {

class queue;
namespace detail {
bool queue_known_removed(queue& q) noexcept;     // for the C API: IPC_RMID seen before a call
std::uint64_t queue_id(const queue& q) noexcept; // for the SysV shim: the msqid
// For the SysV shim in a forked child: closes the handle's descriptors without sending anything
// on them (the parent still uses that connection); the handle is then dead and destroys quietly.
void queue_abandon(queue& q) noexcept;
} // namespace detail

/// How queue::open finds or makes its queue, as msgget's flags.
enum class open_flags : unsigned {
    none = 0,            ///< open an existing queue
    create = 1u << 0,    ///< IPC_CREAT: create the queue if it does not exist
    exclusive = 1u << 1, ///< IPC_EXCL: with create, fail if it exists
};

constexpr open_flags operator|(open_flags a, open_flags b) noexcept {
    return open_flags(unsigned(a) | unsigned(b));
}
constexpr bool operator&(open_flags a, open_flags b) noexcept {
    return (unsigned(a) & unsigned(b)) != 0;
}

/// How to reach seqmqd and what a newly created queue gets.
struct queue_options {
    /// The daemon; std::nullopt: daemon_address().
    std::optional<address> daemon;
    /// msg_qbytes of a queue this call creates; 0: the daemon's default.
    std::size_t capacity = 0;
    /// How long to wait for the daemon to accept the connection; std::nullopt: fail at once.
    timeout wait_for_daemon = std::nullopt;
    /// Opt-in: before a call waiting for the daemon's answer goes to sleep, poll for this long
    /// without sleeping. Trades CPU (one core busy while spinning) for the wake-up latency of a
    /// sleeping client; pairs with seqmqd's --spin-us.
    std::chrono::microseconds spin{0};
    /// Opt-in: every call seen by every other process as soon as it returns, as with SysV
    /// queues. The daemon grants this handle no credit, so a send returns once the message is
    /// queued and an idle handle holds no queue space; each receive from the delivery socket is
    /// reported at once (msg_lrpid, msg_rtime). Costs a round trip per send. The SysV shim
    /// (libseqmq-sysv.so) sets it.
    bool exact_sysv = false;
};

/// What IPC_STAT reports about a daemon-hosted queue.
struct queue_stat {
    std::uint64_t id = 0;     ///< the daemon's number for the queue (msqid)
    std::string name;         ///< empty for a private queue
    unsigned mode = 0;        ///< msg_perm.mode, the low 9 bits
    uid_t uid = 0, gid = 0;   ///< owner
    uid_t cuid = 0, cgid = 0; ///< creator
    std::size_t count = 0;    ///< msg_qnum
    std::size_t bytes = 0;    ///< msg_cbytes
    std::size_t capacity = 0; ///< msg_qbytes
    std::size_t max_message_size = 0;
    pid_t last_send_pid = 0;                                   ///< msg_lspid
    pid_t last_receive_pid = 0;                                ///< msg_lrpid
    std::chrono::system_clock::time_point last_send_time{};    ///< msg_stime; epoch: never
    std::chrono::system_clock::time_point last_receive_time{}; ///< msg_rtime; epoch: never
    std::chrono::system_clock::time_point change_time{};       ///< msg_ctime
    std::size_t waiting_receivers = 0;                         ///< receives parked in the daemon
    std::size_t waiting_senders = 0; ///< sends parked in the daemon, waiting for room
};

/// What IPC_SET changes; fields left empty stay as they are.
struct queue_settings {
    std::optional<unsigned> mode; ///< the low 9 bits
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::optional<std::size_t> capacity; ///< msg_qbytes
};

/// Daemon-wide totals, as msgctl(MSG_INFO), and the daemon's limits.
struct daemon_info {
    std::size_t queues = 0, messages = 0, bytes = 0, clients = 0;
    std::uint64_t protocol_errors = 0; ///< connections cut for malformed records
    std::size_t max_queues = 0, max_queue_bytes = 0, max_message_size = 0, max_clients = 0;
    /// Memory that queued messages, messages in transit and credit take, each message counted
    /// with its bookkeeping; and the daemon's limit on it (--max-memory).
    std::size_t memory = 0, max_memory = 0;
    std::size_t default_capacity = 0; ///< msg_qbytes of a new queue (msgmnb)
    /// The highest index in use (the low 15 bits of an id: what msgctl(IPC_INFO) returns and
    /// stat_index() takes); none without queues.
    std::optional<std::size_t> highest_index;
    /// The state directory (seqmqd --state-dir), when queues are kept on disk.
    struct state_directory {
        std::string path;
        std::string sync;                     ///< "always", "batch" or "none" (--sync)
        std::chrono::milliseconds interval{}; ///< --sync-interval (batch)
        std::uint64_t file_bytes = 0;         ///< the store file's size
        std::uint64_t used_bytes = 0;         ///< ... of which the store uses
        /// The last sync to the disk; the epoch if none yet.
        std::chrono::system_clock::time_point last_sync{};
    };
    std::optional<state_directory> state; ///< none: queues in memory only
};

/// Whose access queue::stat_index() checks.
enum class stat_check {
    read_permission, ///< MSG_STAT: the caller's read permission, as IPC_STAT
    none,            ///< MSG_STAT_ANY: none
};

/// The daemon's address for clients: $SEQMQ_DAEMON if set (any address text), else
/// unix:$XDG_RUNTIME_DIR/seqmq/seqmqd.sock, else unix:/run/seqmq/seqmqd.sock.
/// Errors: invalid_argument (seqmq::errc) if $SEQMQ_DAEMON does not parse.
result<address> daemon_address();

/// A named queue hosted by seqmqd, shared by any number of processes: send, receive with msgrcv's
/// selectors, peek and list without taking, stat, set, remove. One connection to the daemon per
/// handle. A stream of sends does not wait for the daemon each time: the daemon grants credit
/// (queue space set aside for this handle) and sends within it return at once.
/// Not thread-safe: one thread uses a handle at a time. Move-only.
///
/// Errors common to every call after open: identifier_removed once the queue has been removed;
/// connection_reset / broken_pipe if the daemon went away; protocol_error if the daemon cut the
/// connection for a malformed record.
class queue {
public:
    /// Opens (and with create, makes) the queue `name`, as msgget(key, flags | mode).
    /// `name` is 1 to 255 bytes without NUL; "#N" opens the queue with id N.
    /// Errors: no_such_file_or_directory if it does not exist and create is not given;
    /// file_exists with create|exclusive if it exists; permission_denied (EACCES) if `mode` asks
    /// for access the queue's mode does not grant this uid/gid; no_space_on_device (ENOSPC) at the
    /// daemon's queue limit; invalid_argument for a bad name or capacity;
    /// no_such_file_or_directory / connection_refused when no daemon listens (see
    /// daemon_address()); EUSERS (system_category) at the daemon's client limit; timed_out.
    static result<queue> open(std::string_view name, open_flags flags = open_flags::none,
                              unsigned mode = 0600, const queue_options& options = {});

    /// Creates a new private queue, as msgget(IPC_PRIVATE, mode): it has no name; other processes
    /// reach it as "#ID" (stat().id). Errors: as open().
    static result<queue> create_private(unsigned mode = 0600, const queue_options& options = {});

    queue(queue&&) noexcept;
    queue& operator=(queue&&) noexcept;
    ~queue();

    /// Sends one message of `type` (>= 1). Blocks while the queue is full (msg_qbytes), unless
    /// nowait. Errors: bad_type (invalid_argument) if type < 1; message_size if the payload is
    /// longer than the daemon's maximum; resource_unavailable_try_again when full with nowait;
    /// permission_denied without write permission; timed_out; interrupted (a signal while
    /// waiting); identifier_removed if the queue is removed meanwhile.
    result<void> send(long type, std::span<const std::byte> payload,
                      send_flags flags = send_flags::none, timeout limit = {});

    /// Sends `messages` in order. Those that fit the handle's credit go packed into batch
    /// records, many to one system call; the daemon queues each on its own (its type,
    /// boundaries and place in arrival order kept). Short of credit, the rest go in requests of
    /// many messages each, queued in order while each fits (msgsnd's check, message by
    /// message); the first that does not fit waits for room, as in send().
    /// Returns how many were sent: all, or fewer when nowait, the timeout, a signal or an error
    /// stopped it after some had gone (the error then shows again on the next call).
    /// Errors (nothing sent): as send(); every message is checked (type, size) before any goes.
    result<std::size_t> send_many(std::span<const outgoing_message> messages,
                                  send_flags flags = send_flags::none, timeout limit = {});

    /// Takes the first message `which` selects, writing its payload into `buffer`.
    /// Errors: no_message with nowait and nothing matching; timed_out; argument_list_too_long
    /// (E2BIG) when the message is longer than `buffer` without noerror — it stays queued;
    /// permission_denied without read permission; interrupted; identifier_removed.
    result<received> receive(std::span<std::byte> buffer, selector which = {},
                             receive_flags flags = receive_flags::none, timeout limit = {});

    /// Takes up to out.size() messages in one round trip: the ones, in the order, that
    /// successive receive() calls with `which` would take. Payloads are written back to back
    /// into `buffer`; out[i].data is where message i landed. Waits (unless nowait) until at
    /// least one matches. The first message is held to receive()'s rules (E2BIG without
    /// noerror if longer than `buffer`, truncated with it); after it, the batch ends before a
    /// message that does not fit what is left of `buffer` (it stays queued, next in line), and
    /// it stays within one reply of about 60 KB. Returns how many were taken (>= 1).
    /// Errors: as receive(); invalid_argument if `out` is empty.
    result<std::size_t> receive_many(std::span<std::byte> buffer, std::span<incoming_message> out,
                                     selector which = {}, receive_flags flags = receive_flags::none,
                                     timeout limit = {});

    /// As above, returning an owned copy (never truncates).
    /// Errors: no_message, timed_out, permission_denied, interrupted, identifier_removed.
    result<message> receive(selector which = {}, receive_flags flags = receive_flags::none,
                            timeout limit = {});

    /// Copies the first message `which` selects, leaving it queued. Never waits.
    /// Errors: no_message if nothing matches; permission_denied without read permission.
    result<message> peek(selector which = {});

    /// Copies the message at `position` in arrival order (0 = oldest), leaving it queued.
    /// Errors: no_message if fewer are waiting; permission_denied.
    result<message> peek_at(std::size_t position);

    /// Every waiting message's type, size, arrival and sender, oldest first — one snapshot.
    /// Errors: permission_denied.
    result<std::vector<message_info>> list();

    /// Copies of every waiting message, oldest first — one snapshot; nothing is taken.
    /// Errors: permission_denied.
    result<std::vector<message>> peek_all();

    /// IPC_STAT. Errors: permission_denied without read permission.
    result<queue_stat> stat();

    /// IPC_SET. Errors: permission_denied (EPERM, operation_not_permitted) unless the caller is
    /// the owner, the creator or root; operation_not_permitted for a capacity above the daemon's
    /// per-queue limit unless root; invalid_argument for a mode above 0777.
    result<void> set(const queue_settings& settings);

    /// IPC_RMID: removes the queue; every waiting receiver and sender gets identifier_removed.
    /// Errors: operation_not_permitted unless owner, creator or root.
    result<void> remove();

    /// The daemon's totals (MSG_INFO) and limits. Errors: as connecting.
    static result<daemon_info> info(const queue_options& options = {});

    /// IPC_STAT of every queue the caller may read, as `ipcs -q` lists them.
    static result<std::vector<queue_stat>> list_queues(const queue_options& options = {});

    /// msgctl(MSG_STAT / MSG_STAT_ANY): IPC_STAT of the queue at `index` without opening it;
    /// its id (with the sequence number) is in the result. Only the low 15 bits of `index`
    /// count, as on Linux. Errors: invalid_argument if no queue has that index;
    /// permission_denied without read permission (stat_check::read_permission); as connecting.
    static result<queue_stat> stat_index(std::uint32_t index,
                                         stat_check check = stat_check::read_permission,
                                         const queue_options& options = {});

    /// Waits until the daemon has taken in every message this handle sent. A send that returned
    /// is already committed — queue space is set aside for it and later calls on this handle see
    /// it — but a send on credit does not wait for the daemon, so before telling another process
    /// "it is queued" by other means (a pipe, exit status), flush. The destructor flushes.
    /// Errors: the connection's loss.
    result<void> flush();

    /// The largest payload the daemon accepts.
    std::size_t max_message_size() const noexcept;

    /// The connection to the daemon, for poll (POLLIN: the daemon sent something).
    int native_handle() const noexcept;

    struct impl;

private:
    friend bool detail::queue_known_removed(queue& q) noexcept;
    friend std::uint64_t detail::queue_id(const queue& q) noexcept;
    friend void detail::queue_abandon(queue& q) noexcept;
    explicit queue(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> impl_;
};

} // namespace seqmq
