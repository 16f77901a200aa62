#include "daemon/model/registry.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>

namespace seqmq::daemon::model {

std::expected<hosted_queue*, int> registry::open(const open_params& want, const credentials& who,
                                                 bool& created) {
    created = false;
    hosted_queue* q = nullptr;
    if (want.how == open_params::by::id) {
        q = find(want.id);
        if (!q)
            return std::unexpected(ENOENT);
    } else if (want.how == open_params::by::name) {
        if (auto it = by_name_.find(std::string(want.name)); it != by_name_.end()) {
            if (want.create && want.exclusive)
                return std::unexpected(EEXIST);
            q = it->second;
        } else if (!want.create) {
            return std::unexpected(ENOENT);
        }
    }
    if (q) {
        if (!permitted(who, q->perm(), want.mode))
            return std::unexpected(EACCES);
        return q;
    }
    // ipc_addid: the limit is msgmni, and never more than the indexes there are.
    if (by_index_.size() >= std::min<std::size_t>(limits_.max_queues, msqid_allocator::max_indexes))
        return std::unexpected(ENOSPC);
    const std::size_t capacity = want.capacity ? want.capacity : limits_.default_capacity;
    if (capacity > limits_.max_queue_bytes && !who.is_root())
        return std::unexpected(EINVAL);
    ipc_perm perm;
    perm.uid = perm.cuid = who.known ? who.uid : uid_t(-1);
    perm.gid = perm.cgid = who.known ? who.gid : gid_t(-1);
    perm.mode = want.mode & 0777;
    const std::string name = want.how == open_params::by::name ? std::string(want.name) : "";
    const auto id = ids_.allocate(by_index_.size(),
                                  [&](std::uint32_t index) { return by_index_.contains(index); });
    if (!id)
        return std::unexpected(ENOSPC);
    auto made = std::make_unique<hosted_queue>(*id, name, perm, capacity, limits_.max_message_size,
                                               budget_, done_);
    q = made.get();
    q->observe(observer_);
    by_index_.emplace(msqid_allocator::index_of(*id), std::move(made));
    if (!name.empty())
        by_name_.emplace(name, q);
    created = true;
    if (observer_) {
        observer_->queue_changed(*q);
        observer_->ids_changed(ids_.saved());
    }
    return q;
}

void registry::observe(change_observer* o) noexcept {
    observer_ = o;
    for (auto& [_, q] : by_index_)
        q->observe(o);
}

std::expected<hosted_queue*, int> registry::restore(std::uint64_t id, std::string name,
                                                    const ipc_perm& perm, std::size_t capacity) {
    const std::uint32_t index = msqid_allocator::index_of(id);
    if (id > std::uint64_t(INT_MAX) || by_index_.contains(index) ||
        (!name.empty() && by_name_.contains(name)))
        return std::unexpected(EEXIST);
    auto made = std::make_unique<hosted_queue>(id, std::move(name), perm, capacity,
                                               limits_.max_message_size, budget_, done_);
    hosted_queue* q = made.get();
    q->observe(observer_);
    by_index_.emplace(index, std::move(made));
    if (!q->name().empty())
        by_name_.emplace(q->name(), q);
    return q;
}

hosted_queue* registry::find(std::uint64_t id) noexcept {
    hosted_queue* q =
        id <= std::uint64_t(INT_MAX) ? at_index(msqid_allocator::index_of(id)) : nullptr;
    return q && q->id() == id ? q : nullptr; // another sequence number: an older queue's id
}

hosted_queue* registry::at_index(std::uint32_t index) noexcept {
    auto it = by_index_.find(index);
    return it == by_index_.end() ? nullptr : it->second.get();
}

std::optional<std::uint32_t> registry::highest_index() const noexcept {
    if (by_index_.empty())
        return std::nullopt;
    return by_index_.rbegin()->first;
}

void registry::erase(hosted_queue& q) {
    if (!q.name().empty())
        by_name_.erase(q.name());
    by_index_.erase(msqid_allocator::index_of(q.id())); // q is gone
}

} // namespace seqmq::daemon::model
