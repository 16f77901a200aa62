// The shim's daemon handles, by msqid. seqmqd binds a connection to one queue (its `open`), and a
// handle serves one call at a time, so a process has, for each msqid it uses, a pool of handles:
// a call takes one (or opens one more: "#msqid"), uses it alone, and gives it back. A blocked
// msgrcv holds its handle, and another thread's call on the same queue takes another; the pool's
// lock is held only to take and give back, never while a call waits.
#pragma once

#include "capi/handle.hpp"

#include <seqmq/error.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace seqmq::shim {

/// This process's handles on seqmqd's queues, by msqid; each handle serves one call at a time.
class handle_pool {
    struct slot; // a handle and its msqid

public:
    using handle_ptr = std::unique_ptr<seqmq_handle>;
    /// Opens a new handle on the queue msqid. Errors: as seqmq::queue::open().
    using opener = result<handle_ptr> (*)(int msqid);

    /// Idle handles kept per msqid; more are closed when given back.
    static constexpr std::size_t max_idle = 4;

    explicit handle_pool(opener open) noexcept : open_(open) {}
    handle_pool(const handle_pool&) = delete;
    handle_pool& operator=(const handle_pool&) = delete;

    /// One handle, for one call; given back to the pool when the lease ends.
    class lease {
    public:
        lease(lease&& o) noexcept;
        lease& operator=(lease&&) = delete;
        ~lease();
        seqmq_handle& handle() const noexcept;
        seqmq::queue& queue() const noexcept;
        /// The handle is of no more use (its queue is gone, or its connection): it is closed
        /// when the lease ends instead of going back to the pool.
        void discard() noexcept { discard_ = true; }

    private:
        friend class handle_pool;
        lease(handle_pool& p, slot* s, std::uint64_t generation) noexcept
            : pool_(&p), slot_(s), generation_(generation) {}
        handle_pool* pool_;
        slot* slot_;
        std::uint64_t generation_;
        bool discard_ = false;
    };

    /// An idle handle on msqid, or a new one. Errors: as the opener (no_such_file_or_directory
    /// when the daemon has no queue msqid).
    result<lease> take(int msqid);

    /// Adds a handle opened elsewhere (msgget) as an idle handle of msqid.
    void add(int msqid, handle_ptr h);

    /// Closes every idle handle of msqid (its queue was removed).
    void forget(int msqid);

    /// fork(): lock() in the parent before, unlock() in both after, then forked() in the child.
    void lock() noexcept { mutex_.lock(); }
    void unlock() noexcept { mutex_.unlock(); }
    /// In a child process: every handle, idle or out on a lease, was its parent's. Each one's
    /// descriptors are closed without a word sent on them (the parent goes on using those
    /// connections); the child opens its own as it needs them.
    void forked() noexcept;

private:
    struct slot {
        handle_ptr handle;
        int msqid;
    };
    void give_back(lease& l) noexcept;
    // Takes s out of all_ (or orphans_), under the lock; the caller destroys it (its handle
    // says goodbye to the daemon) once the lock is released.
    std::unique_ptr<slot> extract(slot* s) noexcept;

    opener open_;
    std::mutex mutex_;
    std::uint64_t generation_ = 0; // one more at each fork: older leases are the parent's
    // Every handle of this process, each in its slot; a slot is idle (in idle_) or out on a
    // lease. Taking and giving back move a pointer: no allocation per call.
    std::vector<std::unique_ptr<slot>> all_;
    std::unordered_map<int, std::vector<slot*>> idle_;
    // Handles of calls that were running in other threads at fork(): in the child those threads
    // do not exist and will never give them back. Closed, kept reachable (for leak checkers).
    std::vector<std::unique_ptr<slot>> orphans_;
};

} // namespace seqmq::shim
