// The queues seqmqd hosts, by id and by name, and how a client gets one: ipcget's rules.
#pragma once

#include "daemon/model/hosted_queue.hpp"
#include "daemon/model/msqid_allocator.hpp"

#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace seqmq::daemon::model {

/// The limits a registry applies (each a seqmqd flag).
struct registry_limits {
    std::size_t max_queues = 1024;        ///< msgmni (at most 32768 take effect: IPCMNI)
    std::size_t default_capacity = 16384; ///< msg_qbytes of a new queue (msgmnb)
    std::size_t max_queue_bytes = 16384;  ///< msg_qbytes a client other than root may set
    std::size_t max_message_size = 8192;  ///< msgmax
};

/// What a client asks for when it opens a queue (msgget).
struct open_params {
    enum class by { name, id, none } how = by::name; ///< none: IPC_PRIVATE
    std::string_view name;
    std::uint64_t id = 0;
    bool create = false, exclusive = false; ///< IPC_CREAT, IPC_EXCL
    unsigned mode = 0;                      ///< msgget's flag: the access asked for, and the
                                            ///< mode of a queue this creates
    std::size_t capacity = 0;               ///< 0: the default
};

class registry {
public:
    registry(const registry_limits& limits, memory_budget& budget, completion& done)
        : limits_(limits), budget_(budget), done_(done) {}

    /// ipcget: the existing queue (its access checked against `mode`), or a new one with
    /// IPC_CREAT or IPC_PRIVATE, its id as Linux gives it (msqid_allocator). `created` says
    /// which. Errors (errno): ENOENT no such queue without IPC_CREAT; EEXIST with
    /// IPC_CREAT|IPC_EXCL; EACCES the access asked is refused; ENOSPC max_queues (or 32768)
    /// reached; EINVAL a capacity above max_queue_bytes asked by other than root.
    std::expected<hosted_queue*, int> open(const open_params& want, const credentials& who,
                                           bool& created);

    /// Reports every change from now on (queues made, the id allocator) to `o`, and passes it
    /// to every queue.
    void observe(change_observer* o) noexcept;
    /// A queue read back from a state directory, with its id, before any client: false if its
    /// id or name is taken already (a damaged directory).
    std::expected<hosted_queue*, int> restore(std::uint64_t id, std::string name,
                                              const ipc_perm& perm, std::size_t capacity);
    msqid_allocator& ids() noexcept { return ids_; }

    /// The queue whose id is `id` (index and sequence number both), or null.
    hosted_queue* find(std::uint64_t id) noexcept;
    /// The queue at `index` whatever its sequence number (MSG_STAT), or null.
    hosted_queue* at_index(std::uint32_t index) noexcept;
    /// Forgets a queue once remove() was called on it.
    void erase(hosted_queue& q);

    /// The highest index in use (ipc_get_maxidx, what IPC_INFO returns); none without queues.
    std::optional<std::uint32_t> highest_index() const noexcept;

    std::size_t size() const noexcept { return by_index_.size(); }
    const registry_limits& limits() const noexcept { return limits_; }
    /// Every queue, by index (as ipcs lists them).
    template <class Each>
    void for_each(Each each) const {
        for (const auto& [_, q] : by_index_)
            each(*q);
    }

private:
    registry_limits limits_;
    memory_budget& budget_;
    completion& done_;
    std::map<std::uint32_t, std::unique_ptr<hosted_queue>> by_index_;
    std::unordered_map<std::string, hosted_queue*> by_name_;
    msqid_allocator ids_;
    change_observer* observer_ = nullptr;
};

} // namespace seqmq::daemon::model
