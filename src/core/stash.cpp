#include "core/stash.hpp"

#include <cstring>
#include <new>

namespace seqmq::detail {

namespace {
std::size_t block_size(std::size_t payload) noexcept {
    return sizeof(queued_message) + payload;
}
} // namespace

message_store::message_store(std::size_t max_message_size)
    : pool_(std::pmr::pool_options{0, block_size(max_message_size)}), types_(&pool_),
      fronts_(&pool_) {}

message_store::~message_store() {
    for (queued_message* m = head_; m;) {
        queued_message* next = m->next;
        pool_.deallocate(m, block_size(m->size), alignof(queued_message));
        m = next;
    }
}

const queued_message& message_store::push(long type, std::span<const std::byte> payload,
                                          pid_t sender, std::uint64_t arrival) {
    void* block = pool_.allocate(block_size(payload.size()), alignof(queued_message));
    auto* m = ::new (block)
        queued_message{type, arrival, sender, static_cast<std::uint32_t>(payload.size())};
    if (!payload.empty())
        std::memcpy(m->data(), payload.data(), payload.size());

    m->prev = tail_;
    (tail_ ? tail_->next : head_) = m;
    tail_ = m;

    type_list& list = types_[type];
    if (list.tail) {
        list.tail->next_same = m;
    } else {
        list.head = m;
        fronts_.insert(m);
    }
    list.tail = m;
    ++count_;
    bytes_ += payload.size();
    return *m;
}

const queued_message* message_store::find(selector which) const noexcept {
    if (count_ == 0)
        return nullptr;
    if (which.type == 0)
        return head_;
    if (which.type > 0 && !which.except) {
        auto it = types_.find(which.type);
        return it == types_.end() ? nullptr : it->second.head;
    }
    if (which.type > 0) {
        auto it = fronts_.begin();
        if ((*it)->type == which.type)
            ++it;
        return it == fronts_.end() ? nullptr : *it;
    }
    // types_ holds only types with messages waiting, so its first entry is the lowest.
    auto lowest = types_.begin();
    return lowest->first <= lowest_limit(which.type) ? lowest->second.head : nullptr;
}

void message_store::pop(const queued_message& cm) noexcept {
    auto* m = const_cast<queued_message*>(&cm);
    (m->prev ? m->prev->next : head_) = m->next;
    (m->next ? m->next->prev : tail_) = m->prev;

    auto it = types_.find(m->type);
    fronts_.erase(m);
    it->second.head = m->next_same;
    if (m->next_same)
        fronts_.insert(m->next_same);
    else
        types_.erase(it);

    --count_;
    bytes_ -= m->size;
    pool_.deallocate(m, block_size(m->size), alignof(queued_message));
}

const queued_message* message_store::at(std::size_t position) const noexcept {
    if (position >= count_)
        return nullptr;
    const queued_message* m = head_;
    while (position--)
        m = m->next;
    return m;
}

} // namespace seqmq::detail
