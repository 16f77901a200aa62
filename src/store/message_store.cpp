#include "store/message_store.hpp"

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
    clear();
}

void message_store::release(queued_message* m) noexcept {
    const std::size_t size = m->size;
    m->~queued_message();
    pool_.deallocate(m, block_size(size), alignof(queued_message));
}

void message_store::clear() noexcept {
    for (auto& [_, list] : types_)
        list.clear();
    all_.clear_and_dispose([this](queued_message* m) { release(m); });
    types_.clear();
    fronts_.clear();
    count_ = bytes_ = 0;
    pool_.release();
}

const queued_message& message_store::push(long type, std::span<const std::byte> payload,
                                          pid_t sender, std::uint64_t arrival) {
    void* block = pool_.allocate(block_size(payload.size()), alignof(queued_message));
    auto* m = ::new (block)
        queued_message{type, arrival, sender, static_cast<std::uint32_t>(payload.size()), {}, {}};
    if (!payload.empty())
        std::memcpy(m->data(), payload.data(), payload.size());

    // The hint makes the usual case, the newest message, constant time.
    all_.insert_unique(all_.end(), *m);
    type_set& list = types_[type];
    const queued_message* old_head = list.empty() ? nullptr : &*list.begin();
    list.insert_unique(list.end(), *m);
    if (!old_head || arrival < old_head->arrival) {
        if (old_head)
            fronts_.erase(const_cast<queued_message*>(old_head));
        fronts_.insert(m);
    }
    ++count_;
    bytes_ += payload.size();
    return *m;
}

const queued_message* message_store::find(selector which) const noexcept {
    if (count_ == 0)
        return nullptr;
    if (which.type == 0)
        return &*all_.begin();
    if (which.type > 0 && !which.except) {
        auto it = types_.find(which.type);
        return it == types_.end() ? nullptr : &*it->second.begin();
    }
    if (which.type > 0) {
        auto it = fronts_.begin();
        if ((*it)->type == which.type)
            ++it;
        return it == fronts_.end() ? nullptr : *it;
    }
    // types_ holds only types with messages waiting, so its first entry is the lowest.
    auto lowest = types_.begin();
    return lowest->first <= lowest_limit(which.type) ? &*lowest->second.begin() : nullptr;
}

void message_store::pop(const queued_message& cm) noexcept {
    auto* m = const_cast<queued_message*>(&cm);
    all_.erase(all_.iterator_to(*m));
    auto it = types_.find(m->type);
    type_set& list = it->second;
    list.erase(list.iterator_to(*m));
    fronts_.erase(m);
    if (list.empty())
        types_.erase(it);
    else
        fronts_.insert(&*list.begin());
    --count_;
    bytes_ -= m->size;
    release(m);
}

const queued_message* message_store::at(std::size_t position) const noexcept {
    if (position >= count_)
        return nullptr;
    auto it = all_.begin();
    while (position--)
        ++it;
    return &*it;
}

const queued_message* message_store::oldest() const noexcept {
    return all_.empty() ? nullptr : &*all_.begin();
}

const queued_message* message_store::after(const queued_message* m) const noexcept {
    auto it = all_.iterator_to(*m);
    return ++it == all_.end() ? nullptr : &*it;
}

const queued_message* message_store::newest() const noexcept {
    return all_.empty() ? nullptr : &*all_.rbegin();
}

} // namespace seqmq::detail
