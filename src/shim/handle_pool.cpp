#include "shim/handle_pool.hpp"

#include <algorithm>
#include <utility>

namespace seqmq::shim {

handle_pool::lease::lease(lease&& o) noexcept
    : pool_(o.pool_), slot_(std::exchange(o.slot_, nullptr)), generation_(o.generation_),
      discard_(o.discard_) {}

handle_pool::lease::~lease() {
    if (slot_)
        pool_->give_back(*this);
}

seqmq_handle& handle_pool::lease::handle() const noexcept {
    return *slot_->handle;
}

seqmq::queue& handle_pool::lease::queue() const noexcept {
    return *std::get_if<seqmq::queue>(&slot_->handle->end); // the pool holds queues only
}

result<handle_pool::lease> handle_pool::take(int msqid) {
    {
        std::lock_guard hold(mutex_);
        if (auto it = idle_.find(msqid); it != idle_.end() && !it->second.empty()) {
            slot* s = it->second.back(); // the one used last: a single thread keeps to one
            it->second.pop_back();
            return lease(*this, s, generation_);
        }
    }
    // Opening connects and waits for the daemon's answer: not under the lock.
    auto h = open_(msqid);
    if (!h)
        return std::unexpected(h.error());
    auto made = std::make_unique<slot>(slot{std::move(*h), msqid});
    slot* s = made.get();
    std::lock_guard hold(mutex_);
    all_.push_back(std::move(made));
    return lease(*this, s, generation_);
}

void handle_pool::add(int msqid, handle_ptr h) {
    auto made = std::make_unique<slot>(slot{std::move(h), msqid});
    std::unique_lock hold(mutex_);
    auto& idle = idle_[msqid];
    if (idle.size() >= max_idle) {
        hold.unlock();
        return; // enough of them: this one closes
    }
    idle.push_back(made.get());
    all_.push_back(std::move(made));
}

void handle_pool::forget(int msqid) {
    std::vector<std::unique_ptr<slot>> closing; // closed after the lock is released
    std::lock_guard hold(mutex_);
    auto it = idle_.find(msqid);
    if (it == idle_.end())
        return;
    for (slot* s : it->second)
        closing.push_back(extract(s));
    idle_.erase(it);
}

void handle_pool::give_back(lease& l) noexcept {
    std::unique_ptr<slot> closing; // closed after the lock is released
    std::lock_guard hold(mutex_);
    slot* s = std::exchange(l.slot_, nullptr);
    // (A lease from before a fork: forked() closed its handle already.)
    if (l.generation_ == generation_ && !l.discard_) {
        try {
            auto& idle = idle_[s->msqid];
            if (idle.size() < max_idle) {
                idle.push_back(s);
                return;
            }
        } catch (...) { // no memory to keep it: close it
        }
    }
    closing = extract(s);
}

std::unique_ptr<handle_pool::slot> handle_pool::extract(slot* s) noexcept {
    for (auto* list : {&all_, &orphans_}) {
        auto it = std::find_if(list->begin(), list->end(),
                               [&](const std::unique_ptr<slot>& p) { return p.get() == s; });
        if (it != list->end()) {
            auto found = std::move(*it);
            list->erase(it);
            return found;
        }
    }
    return nullptr;
}

void handle_pool::forked() noexcept {
    ++generation_;
    std::vector<slot*> idle;
    for (auto& [_, list] : idle_)
        idle.insert(idle.end(), list.begin(), list.end());
    idle_.clear();
    for (auto& s : all_) {
        if (auto* q = std::get_if<seqmq::queue>(&s->handle->end))
            seqmq::detail::queue_abandon(*q);
        if (std::find(idle.begin(), idle.end(), s.get()) == idle.end())
            orphans_.push_back(std::move(s)); // out on a lease in some thread of the parent
    }
    all_.clear(); // the idle ones: abandoned, so they destroy without a word
}

} // namespace seqmq::shim
