// seqmqd's state directory: every queue and every queued message on disk, so that they outlive
// the daemon (issue 12). The store is LMDB — a B+tree with ACID transactions and one writer, in
// one memory-mapped file — behind this interface, which speaks only of queues and messages (as
// NATS keeps its stream stores apart from the stream logic).
//
// What is on disk (DIR/data.mdb, named databases):
//   meta      "format" → the format number (big-endian u32); "registry" → the id allocator's
//             state, bytes the registry reads back
//   queues    queue id (big-endian u32) → the queue's fields (CBOR, nlohmann-json)
//   messages  queue id (big-endian u32) + arrival (big-endian u64) → type (i64), sender pid
//             (i32), time (i64 ns), all big-endian, then the payload. The key order is each
//             queue's arrival order, so loading walks every queue's messages as they came.
// DIR/seqmqd.lock is held with flock() while a daemon uses the directory (its pid written in
// it), so a second daemon is refused, and LMDB runs without its own lock file (MDB_NOLOCK).
//
// Transactions follow the event loop: the first write of a turn opens a write transaction and
// commit() at the end of the turn commits it — every send and receive of one turn share one
// commit (group commit). The sync policy decides when a commit reaches the disk:
//   always  each commit is synced (fdatasync) before commit() returns
//   batch   commits are not synced; sync() (every --sync-interval) syncs them all
//   none    never synced by the daemon (the kernel writes the pages back when it likes)
// A crash of seqmqd alone loses no committed transaction under any policy: a commit is in the
// page cache when it returns. A crash of the machine loses, under batch, what was committed
// since the last sync — and, LMDB warns, an unsynced commit can leave the file inconsistent
// (see README, Durability).
//
// Disk space: the data file is kept allocated (fallocate) a reserve ahead of what LMDB uses, and
// room() says whether a turn may write: when the disk is full, the reserve cannot grow, sends
// are refused (ENOSPC) and receives, which free pages, go on — a write inside the allocated
// blocks never meets ENOSPC.
#pragma once

#include <seqmq/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seqmq::daemon::durable {

/// When a commit is made durable (seqmqd --sync).
enum class sync_policy { always, batch, none };

/// "always", "batch", "none"; nullopt for another word.
std::optional<sync_policy> parse_sync_policy(std::string_view word) noexcept;
const char* to_string(sync_policy p) noexcept;

/// The category of LMDB's own error codes (MDB_*); errno values stay in system_category.
/// MDB_MAP_FULL compares equal to no_space_on_device; MDB_CORRUPTED, MDB_PAGE_NOTFOUND,
/// MDB_INVALID and MDB_VERSION_MISMATCH to bad_message.
const std::error_category& lmdb_category() noexcept;

/// A queue as the state directory keeps it.
struct stored_queue {
    std::uint32_t id = 0;
    std::string name; ///< empty: a private queue
    std::uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0, mode = 0;
    std::uint64_t capacity = 0;     ///< msg_qbytes
    std::uint64_t next_arrival = 1; ///< the arrival number the queue's next message gets
    std::int32_t last_send_pid = 0, last_receive_pid = 0;
    std::int64_t send_time = 0, receive_time = 0, change_time = 0; ///< ns since the epoch
};

/// A queued message as the state directory keeps it (`data` is valid during the call that
/// shows it).
struct stored_message {
    std::uint64_t arrival = 0;
    std::int64_t type = 0;
    std::int32_t sender_pid = 0;
    std::int64_t time = 0; ///< ns since the epoch, when it was sent
    std::span<const std::byte> data;
};

struct store_options {
    sync_policy sync = sync_policy::batch;
    /// The largest the data file may grow (LMDB's map size). Past it writes fail with
    /// MDB_MAP_FULL, which compares equal to no_space_on_device.
    std::size_t max_bytes = std::size_t(8) << 30;
    /// How far ahead of LMDB's use the data file is kept allocated (see the top).
    std::size_t reserve_bytes = std::size_t(32) << 20;
};

/// Why a state directory was refused at start-up: the error, and a sentence for the operator
/// that names the file and the way out.
struct store_refusal {
    std::error_code code;
    std::string explanation;
};

/// What `seqmq info` shows of the state directory.
struct store_info {
    std::filesystem::path directory;
    sync_policy sync = sync_policy::batch;
    std::uint64_t file_bytes = 0;                      ///< the data file's allocated size
    std::uint64_t used_bytes = 0;                      ///< the pages LMDB uses
    std::chrono::system_clock::time_point last_sync{}; ///< epoch: never synced
    std::uint64_t commits = 0, syncs = 0;
};

class state_store {
public:
    /// Opens (or makes) the state directory `dir`: creates it if missing (mode 0700), takes its
    /// lock, opens the store and checks it. Refused (with the file named in the explanation):
    /// another process holds the lock (EWOULDBLOCK); a store written by a newer format
    /// (EPROTONOSUPPORT); a data file shorter than its pages say, or not an LMDB file, or
    /// without seqmq's format record (EBADMSG); a file system error (its errno).
    static std::expected<state_store, store_refusal> open(const std::filesystem::path& dir,
                                                          const store_options& options);

    state_store(state_store&&) noexcept;
    state_store& operator=(state_store&&) noexcept;
    ~state_store();

    /// Everything the directory holds, for start-up: `queue` for each queue (by id), then
    /// `message` for each message in key order — queue by queue, oldest first. A message whose
    /// queue is not there, or a record that cannot be decoded, is EBADMSG (and loading stops).
    result<void>
    load(const std::function<result<void>(const stored_queue&)>& queue,
         const std::function<result<void>(std::uint32_t queue_id, const stored_message&)>& message)
        const;
    /// The registry's own state, as put_registry() last wrote it; empty if never.
    result<std::vector<std::byte>> registry() const;

    // --- writes: into the turn's transaction, which the first one opens --------------------

    /// Whether a turn may add data: false once the reserve could not be grown (the disk is
    /// full); checked again on each call (the disk may have room again).
    bool room() noexcept;

    result<void> put_queue(const stored_queue& q);
    /// Removes the queue and every message it holds.
    result<void> remove_queue(std::uint32_t id);
    result<void> put_message(std::uint32_t queue_id, const stored_message& m);
    /// Removes one message; a message that is not there is not an error (removal is idempotent:
    /// the daemon may remove what it never wrote, such as a message handed over in its turn).
    result<void> remove_message(std::uint32_t queue_id, std::uint64_t arrival);
    result<void> put_registry(std::span<const std::byte> state);

    /// Whether the turn has written something not committed yet.
    bool pending() const noexcept;
    /// Commits the turn's writes (synced first under `always`). Errors: the commit's (ENOSPC,
    /// EIO, MDB_MAP_FULL): the writes are lost from the store (the in-memory state is ahead).
    result<void> commit();
    /// Drops the turn's writes.
    void abort() noexcept;
    /// Makes every commit so far durable (batch's timer; also at exit). Errors: fdatasync's.
    result<void> sync();

    store_info info() const;

private:
    struct impl;
    explicit state_store(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> impl_;
};

/// The format this seqmqd writes and reads.
inline constexpr std::uint32_t store_format = 1;

} // namespace seqmq::daemon::durable
