// The System V queue model of seqmqd, free of sockets: what ipc/msg.c does for one queue —
// msgsnd and msgrcv with their checks, parked receivers and senders, the pipelined hand-off to
// the longest-waiting receiver (pipelined_send), blocked senders admitted as room appears,
// IPC_SET, IPC_RMID with EIDRM to every waiter (expunge_all, ss_wakeup), IPC_STAT. It reports
// the outcome of every wait through a `completion`; the daemon's sessions carry the bytes.
#pragma once

#include "daemon/model/msqid_allocator.hpp"
#include "daemon/model/permissions.hpp"
#include "store/message_store.hpp"
#include "store/sysv_rules.hpp"
#include "wire/frame.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory_resource>
#include <span>
#include <string>
#include <vector>

namespace seqmq::daemon::model {

using detail::batch_entry;
using detail::queued_message;
using detail::sysv::queue_usage;

/// Who waits: opaque to the model, which only compares `owner` and hands the waiter back.
struct waiter {
    const void* owner = nullptr; ///< the session that asked
    std::uint64_t request = 0;   ///< its request's sequence number
    std::uint32_t kind = 0;      ///< the session's own tag for the request
    pid_t pid = 0;               ///< msg_lrpid / msg_lspid when it is served
};

/// A message as it leaves the model: valid during the call that shows it.
struct message_view {
    long type;
    std::uint64_t arrival;
    pid_t sender;
    std::span<const std::byte> data;
};

/// How the model answers waits it parked, and hands messages over.
class hosted_queue;

class completion {
public:
    /// Gives `m` to the receiver `w` (its buffer is `buffer`; MSG_NOERROR cuts the copy);
    /// `parked`: it was waiting (its wait ends here, whatever the result). False if that
    /// receiver can no longer take it: nothing was handed over, and the message goes on to the
    /// next receiver or stays queued.
    virtual bool hand_over(const waiter& w, std::size_t buffer, const message_view& m,
                           bool parked) = 0;
    /// Ends the wait of `w` with `error`: E2BIG (a pipelined message too long for it), EIDRM
    /// (the queue was removed), ECANCELED (cancel()).
    virtual void fail(const waiter& w, int error) = 0;
    /// The parked send of `w` went in.
    virtual void sent(const waiter& w) = 0;
    /// The wait of `w`, a receiver waiting on the delivery window (wait_for_window), ended: the
    /// message it was due went into the queue, to be copied into the window next.
    virtual void window_due(const waiter& w) = 0;
    /// Senders wait only because clients hold credit on the queue: ask them to give it back.
    virtual void credit_wanted(hosted_queue& q) = 0;

protected:
    ~completion() = default;
};

/// What a state directory keeps of the model: every change that must outlive the daemon, as it
/// is accepted (issue 12). The model calls it and knows nothing of how it is kept; null (the
/// default) keeps queues in memory only.
class change_observer {
public:
    /// A queue was created, or fields the directory keeps changed (IPC_SET, times, pids).
    virtual void queue_changed(const hosted_queue& q) = 0;
    /// IPC_RMID: the queue and every message it holds are gone.
    virtual void queue_removed(const hosted_queue& q) = 0;
    /// A send was accepted: `m` is the queue's from now on (queued, or handed over).
    virtual void message_accepted(const hosted_queue& q, const message_view& m) = 0;
    /// A message left the queue for good: its receiver acknowledged it, or took it from the
    /// delivery window.
    virtual void message_removed(const hosted_queue& q, std::uint64_t arrival) = 0;
    /// The id allocator's state changed (a queue was created).
    virtual void ids_changed(const msqid_allocator::state& ids) = 0;

protected:
    ~change_observer() = default;
};

/// The daemon-wide memory that queued messages, messages in transit and reserved credit may
/// take, each message counted with its overhead (so that zero-length messages are not free).
struct memory_budget {
    /// Bytes one queued message costs beyond its payload (its node, index and pool slack).
    static constexpr std::size_t message_overhead = sizeof(queued_message) + 32;
    std::size_t limit = 0;
    std::size_t used = 0;

    static constexpr std::size_t cost(queue_usage u) noexcept {
        return u.bytes + u.messages * message_overhead;
    }
    bool admits(queue_usage u) const noexcept { return used + cost(u) <= limit; }
    void charge(queue_usage u) noexcept { used += cost(u); }
    void credit(queue_usage u) noexcept { used -= cost(u); }
};

/// IPC_STAT of a hosted queue.
struct queue_status {
    std::size_t count = 0, bytes = 0, capacity = 0;
    pid_t last_send_pid = 0, last_receive_pid = 0;
    std::int64_t send_time = 0, receive_time = 0, change_time = 0; ///< ns since the epoch; 0 never
    std::size_t waiting_receivers = 0, waiting_senders = 0;
};

/// What a send or receive request came to, when it did not hand a message over at once.
struct outcome {
    int error = 0;       ///< 0, or the errno to answer now
    bool parked = false; ///< waiting: the answer comes through the completion
    std::size_t queued = 0;
};

/// One System V queue. Not copyable; lives at one address (waits refer to it by owner only).
class hosted_queue {
public:
    hosted_queue(std::uint64_t id, std::string name, const ipc_perm& perm, std::size_t capacity,
                 std::size_t max_message_size, memory_budget& budget, completion& done);
    hosted_queue(const hosted_queue&) = delete;
    hosted_queue& operator=(const hosted_queue&) = delete;
    ~hosted_queue();

    std::uint64_t id() const noexcept { return id_; }
    const std::string& name() const noexcept { return name_; } ///< empty: private
    const ipc_perm& perm() const noexcept { return perm_; }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t max_message_size() const noexcept { return max_message_size_; }
    /// The arrival number the next message gets.
    std::uint64_t next_arrival() const noexcept { return next_arrival_; }

    /// Reports every change from now on to `o` (null: none).
    void observe(change_observer* o) noexcept { observer_ = o; }

    // --- loading a state directory -------------------------------------------------------------

    /// A message read back from the state directory, after those older than it: queued at its
    /// place, charged to the memory budget (which it may overfill: nothing is dropped).
    void restore_message(long type, std::span<const std::byte> data, pid_t sender,
                         std::uint64_t arrival);
    /// The fields IPC_STAT shows that the directory keeps, and the next arrival number (at
    /// least one past every message restored).
    void restore_status(std::uint64_t next_arrival, pid_t last_send_pid, pid_t last_receive_pid,
                        std::int64_t send_time, std::int64_t receive_time,
                        std::int64_t change_time) noexcept;

    // --- msgsnd ------------------------------------------------------------------------------

    /// msgsnd of `messages` in order, while each fits (msg_fits_inqueue, counting messages in
    /// transit and credit held by clients as used). If the first does not fit: EAGAIN with
    /// `nowait`, ENOBUFS when `may_park` is false, else it waits (answered by
    /// completion::sent). ENOMEM when the daemon's memory budget is spent. Types and sizes
    /// are the caller's to check (sysv::check_send).
    outcome send(const waiter& from, std::span<const batch_entry> messages, bool nowait,
                 bool may_park);

    /// A send made on credit the client holds (reserve() set its room aside): it goes in
    /// without a capacity check, and the room it used is no longer reserved.
    void send_reserved(pid_t from, long type, std::span<const std::byte> data);

    // --- msgrcv ------------------------------------------------------------------------------

    /// msgrcv: the first message `which` selects is handed to `who` through
    /// completion::hand_over. E2BIG if longer than `buffer` without `noerror` (it stays),
    /// ENOMSG with `nowait` when nothing matches, ENOBUFS when it would wait and `may_park` is
    /// false; otherwise it waits for a matching send.
    outcome receive(const waiter& who, selector which, std::size_t buffer, bool noerror,
                    bool nowait, bool may_park);

    /// The first message `which` selects, for a caller that takes several (receive_many) or
    /// only looks (peek).
    /// Never the message due to the window's waiting receiver (see wait_for_window).
    const queued_message* find(selector which) noexcept;
    const queued_message* at(std::size_t position) const noexcept { return store_.at(position); }
    const detail::message_store& messages() const noexcept { return store_; }

    /// Takes `m` (from find(), not in the delivery window) for receiver `pid`: out of the
    /// queue, into transit until acknowledge() or put_back(). Blocked senders are not admitted
    /// yet: call admit_senders() after the last take.
    void take(const queued_message& m, pid_t pid);

    /// Messages handed over reached their receiver: their room is free.
    void acknowledge(queue_usage done) noexcept;
    /// The message `arrival`, handed over, was acknowledged: it is gone for good (reported to
    /// the observer; acknowledge() frees its room).
    void delivered(std::uint64_t arrival) {
        if (observer_)
            observer_->message_removed(*this, arrival);
    }

    /// A message in transit comes back (its receiver went away): to a parked receiver, or to
    /// its place in arrival order, O(log n). It may overfill the queue: nothing is dropped.
    /// The delivery window must be empty (its messages would no longer be the oldest).
    void put_back(const message_view& m);
    /// Several messages come back at once (a receiver went away holding them): all go to
    /// their places first, and then parked receivers, longest-waiting first, are offered the
    /// oldest each wants — so none is handed a newer one while an older one it wants waits.
    void put_back_all(std::span<const message_view> messages);

    // --- the delivery window -----------------------------------------------------------------
    // The oldest messages may also be copied, in order, into a socket that receivers share:
    // each receiver's recv takes one whole record, and the kernel decides who gets which. The
    // model keeps them queued (peek, list and stat see them) until the daemon learns that
    // they were taken (consumed) or reads back those still unread (window_returned). Messages
    // in the window are the oldest `window_count()`; nothing may take them but those receivers.

    /// The oldest message not in the window, the next to copy into it; nullptr if none.
    const queued_message* next_to_feed() const noexcept;
    /// next_to_feed() is now in the window.
    void fed() noexcept;
    /// The oldest `n` messages of the window were taken by receivers: they leave the queue.
    /// Blocked senders are not admitted yet: call admit_senders().
    void consumed(std::size_t n);
    /// The window was read back: the messages whose arrival numbers are in `returned` (oldest
    /// first) stay queued. Of the others, those older than the first one read back were taken;
    /// the later ones too were taken, but dropped by their receiver (it takes records in order
    /// only, and this one came after a gap), so they stay queued too. The window is empty.
    void window_returned(std::span<const std::uint64_t> returned);
    std::size_t window_count() const noexcept { return window_count_; }
    bool in_window(const queued_message& m) const noexcept {
        return window_count_ > 0 && m.arrival <= last_fed_->arrival;
    }
    /// A receiver that took messages from the window said who it is (msg_lrpid).
    void note_receiver(pid_t pid);
    /// A receiver found the window empty and waits on it (for any message, with `buffer`):
    /// it waits among the parked receivers, in order, and when it is the one a message is due
    /// to, that message enters the queue for the window (completion::window_due) rather than
    /// being handed over. Only while the queue is empty (else the window has or will have
    /// something for it).
    void wait_for_window(const waiter& who, std::size_t buffer);
    /// Ends `owner`'s wait on the window, if it still waits, without an answer. With
    /// `gave_up` (it stopped waiting without taking a record), a message that was due to it and
    /// is still queued is due to nobody any more; else it stays due to it (it is the next
    /// record it will take).
    void end_window_wait(const void* owner, bool gave_up);

    /// Parked senders whose message now fits go in, oldest first.
    void admit_senders();

    // --- waits -------------------------------------------------------------------------------

    /// Ends the wait of (owner, request) with ECANCELED; false if it was not waiting.
    bool cancel(const void* owner, std::uint64_t request);
    /// Forgets every wait of `owner`, without answering (its connection is gone).
    void forget(const void* owner);

    // --- credit: room set aside for a client's sends -----------------------------------------

    queue_usage used() const noexcept; ///< queued + in transit
    queue_usage reserved() const noexcept { return reserved_; }
    bool senders_waiting() const noexcept { return !senders_.empty(); }
    /// Whether `u` more can be reserved within the memory budget.
    bool budget_admits(queue_usage u) const noexcept { return budget_.admits(u); }
    void reserve(queue_usage u) noexcept;
    void unreserve(queue_usage u) noexcept;

    // --- control -----------------------------------------------------------------------------

    /// IPC_SET of the fields given; the caller checked the rights. Parked senders that now fit
    /// go in, and credit granted under the old limits is asked back.
    void set(const ipc_perm& perm, std::size_t capacity);
    /// IPC_RMID: every waiter gets EIDRM; the messages are dropped.
    void remove();
    /// IPC_STAT.
    queue_status status() const noexcept;

private:
    struct parked_receive {
        waiter who;
        selector which;
        std::size_t buffer;
        bool noerror;
        bool for_window = false; // wait_for_window()
    };
    struct parked_send {
        waiter who;
        long type;
        std::pmr::vector<std::byte> text;
    };

    enum class room { fits, full, full_of_credit, no_memory };
    room room_for(std::size_t size) const noexcept;
    void enqueue(pid_t from, long type, std::span<const std::byte> data);
    bool pipeline(const message_view& m);
    void into_transit(queue_usage u, pid_t receiver);
    void changed() {
        if (observer_)
            observer_->queue_changed(*this);
    }
    void left_for_good(const queued_message& m) {
        if (observer_)
            observer_->message_removed(*this, m.arrival);
    }

    std::uint64_t id_;
    std::string name_;
    ipc_perm perm_;
    std::size_t capacity_;
    std::size_t max_message_size_;
    memory_budget& budget_;
    completion& done_;
    change_observer* observer_ = nullptr;
    detail::message_store store_;
    std::uint64_t next_arrival_ = 1;
    queue_usage reserved_{}; // credit held by clients
    queue_usage transit_{};  // handed over, not acknowledged
    // The message a send handed to the window's waiting receiver (pipelined_send): queued, so
    // that it is copied into the window in order, but no other receiver may take it.
    const queued_message* due_ = nullptr;
    const void* due_to_ = nullptr;
    std::vector<std::byte> due_copy_; // find() looking past it
    void forget_due(const queued_message* gone) noexcept {
        if (gone == due_)
            due_ = nullptr, due_to_ = nullptr;
    }
    std::size_t window_count_ = 0;             // the oldest messages, copied into the window
    const queued_message* last_fed_ = nullptr; // the newest of them
    pid_t last_send_pid_ = 0, last_receive_pid_ = 0;
    std::int64_t send_time_ = 0, receive_time_ = 0, change_time_ = 0;
    // Parked waits come and go with every receive that finds nothing: their nodes come from a
    // pool, so parking does not call the heap in the steady state.
    std::pmr::unsynchronized_pool_resource waits_pool_;
    std::pmr::list<parked_receive> receivers_{&waits_pool_}; // longest-waiting first
    std::pmr::list<parked_send> senders_{&waits_pool_};
};

/// The wall clock to the kernel tick (msg_stime and friends; SysV keeps whole seconds).
std::int64_t coarse_now_ns() noexcept;

} // namespace seqmq::daemon::model
