// The daemon's side of the state directory (issue 12): the queue model reports what it accepts
// (model::change_observer), and this writes it into the turn's transaction of the state store;
// at the end of each event-loop turn the transaction is committed (group commit) and, under
// --sync always, synced before the turn's replies leave; under batch a sync follows at least
// every --sync-interval. Loading builds the model from the directory before the daemon listens.
#pragma once

#include "daemon/durable/state_store.hpp"
#include "daemon/model/registry.hpp"

#include <chrono>
#include <unordered_set>
#include <vector>

namespace seqmq::daemon {

class persistence final : public model::change_observer {
public:
    persistence(durable::state_store store, std::chrono::milliseconds sync_interval);

    /// Builds `into` (empty, before any client) from the directory, and observes it from now
    /// on. Errors: EBADMSG for a record that cannot be decoded or does not fit (a message
    /// without its queue, a queue id twice); the store's own errors.
    result<void> load(model::registry& into);

    /// Whether sends may add data (false: the disk is full; they are refused with ENOSPC).
    bool room() noexcept { return store_.room(); }
    /// At the end of a turn: the queues changed this turn are written, and everything the
    /// turn wrote is committed (synced first under `always`). Errors are logged: the memory
    /// state is then ahead of the directory.
    void end_turn();
    /// Under batch: syncs once the interval has passed since the first commit not synced.
    void sync_if_due();
    /// How long the event loop may sleep before sync_if_due() has work (-1: no limit).
    int sync_due_in_ms() const noexcept;
    /// Every commit made durable (at exit).
    void sync_now();

    durable::store_info info() const { return store_.info(); }
    durable::sync_policy policy() const noexcept { return policy_; }

    // model::change_observer
    void queue_changed(const model::hosted_queue& q) override;
    void queue_removed(const model::hosted_queue& q) override;
    void message_accepted(const model::hosted_queue& q, const model::message_view& m) override;
    void message_removed(const model::hosted_queue& q, std::uint64_t arrival) override;
    void ids_changed(const model::msqid_allocator::state& ids) override;

private:
    void failed(const char* what, const std::error_code& e);

    durable::state_store store_;
    durable::sync_policy policy_;
    std::chrono::milliseconds interval_;
    std::vector<const model::hosted_queue*> dirty_; // queues changed this turn
    std::unordered_set<const model::hosted_queue*> is_dirty_;
    std::optional<model::msqid_allocator::state> ids_;
    bool turn_failed_ = false; // a write of this turn failed: it is dropped
    bool unsynced_ = false;
    std::chrono::steady_clock::time_point unsynced_since_{};
    std::chrono::steady_clock::time_point last_complaint_{};
};

/// The id allocator's state as the directory keeps it (16 bytes, big-endian), and back.
std::vector<std::byte> encode_ids(const model::msqid_allocator::state& s);
std::optional<model::msqid_allocator::state> decode_ids(std::span<const std::byte> b);

} // namespace seqmq::daemon
