// seqmqd's request layer: what each record a client sends does. A table of request handlers
// (opcode, whether it needs a bound queue, the access it needs) runs the opening checks once;
// each handler decodes its body, asks the queue model, and answers. It is also the model's
// completion: the replies to waits the model parked and the hand-over of messages.
#pragma once

#include "daemon/delivery.hpp"
#include "daemon/model/registry.hpp"
#include "daemon/persistence.hpp"
#include "daemon/server.hpp"
#include "daemon/session.hpp"
#include "daemon/transit.hpp"

#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace seqmq::daemon {

class requests final : public model::completion {
public:
    /// `poller`: the event loop's epoll, where delivery sockets wait to be writable.
    requests(const server_options& options, session_table& sessions, int poller);
    requests(const requests&) = delete;
    requests& operator=(const requests&) = delete;

    /// Serves one record of c that session_table::check() accepted.
    void serve(session& c, const detail::frame_header& h, std::span<const std::byte> body);
    /// After c's records of one turn: more credit if it was sending.
    void end_of_turn(session& c);
    /// A departing client: its waits and credit are forgotten; what it held unacknowledged
    /// goes back to its queues, each message to its place.
    void forget(session& c);

    /// At the end of a turn: copies the head of every queue that changed into its delivery
    /// socket, as far as the window allows.
    void feed_all();
    /// A delivery socket whose window was full can take records again.
    void on_writable(std::uint64_t tag);
    /// Epoll tags of delivery sockets have this bit set (sessions' never do: they are aligned).
    static constexpr std::uint64_t delivery_tag = 1;

    /// Keeps the queues in `store` from now on: builds them from it first (before any client).
    /// Errors: persistence::load's.
    result<void> keep_in(persistence& store);

    /// The largest request payload accepted.
    std::size_t max_request() const noexcept { return max_request_; }
    std::size_t queues() const noexcept { return registry_.size(); }
    std::size_t memory_used() const noexcept { return budget_.used; }

    // model::completion
    bool hand_over(const model::waiter& w, std::size_t buffer, const model::message_view& m,
                   bool parked) override;
    void fail(const model::waiter& w, int error) override;
    void sent(const model::waiter& w) override;
    void credit_wanted(model::hosted_queue& q) override;
    void window_due(const model::waiter& w) override;

private:
    enum class access { none, read, write, owner };
    struct request {
        session& c;
        std::uint64_t seq;
        detail::proto::opcode op;
        std::span<const std::byte> body;
        model::hosted_queue* q; // bound queue, when the handler needs one
    };
    using handler_fn = void (requests::*)(request&);
    struct handler {
        detail::proto::opcode op;
        bool needs_queue;    // EINVAL before open, EIDRM once the queue is removed
        access needs;        // EACCES (read, write) or EPERM (owner) when refused
        bool returns_credit; // a send request gives the connection's unused credit back
        handler_fn serve;
    };
    static const handler* find_handler(detail::proto::opcode op) noexcept;
    static const handler handlers_[];

    // handlers
    void on_open(request& r);
    void on_send(request& r);
    void on_send_many(request& r);
    void on_receive(request& r);
    void on_receive_many(request& r);
    void on_peek(request& r);
    void on_peek_at(request& r);
    void on_list(request& r);
    void on_stat(request& r);
    void on_set(request& r);
    void on_remove(request& r);
    void on_info(request& r);
    void on_list_queues(request& r);
    void on_stat_index(request& r);
    void on_cancel(request& r);
    void on_release(request& r);
    void on_ack(request& r);
    void on_ack_many(request& r);
    void on_sync(request& r);
    void on_attach(request& r);
    void on_taken(request& r);
    void on_wait_delivery(request& r);

    void on_data(session& c, const detail::frame_header& h, std::span<const std::byte> text);
    void on_data_batch(session& c, const detail::frame_header& h,
                       std::span<const std::byte> payload);

    // helpers
    model::waiter waiter_of(const session& c, std::uint64_t seq, detail::proto::opcode op) const;
    bool reply_error(session& c, detail::proto::opcode op, std::uint64_t seq, int error);
    void reply_sent(session& c, detail::proto::opcode op, std::uint64_t seq, std::size_t queued);
    void reply_copy(request& r, const detail::queued_message* m);
    template <class Entries, class Encode>
    void reply_parts(session& c, detail::proto::opcode op, std::uint64_t seq,
                     const Entries& entries, Encode encode_one);
    void send_requested(request& r, std::span<const detail::batch_entry> messages, bool nowait);
    bool spend_credit(session& c, model::queue_usage spent);
    void zero_credit(session& c);
    void grant_credit(session& c);
    void revoke_all(model::hosted_queue& q);
    void acknowledge(session& c, std::size_t count);
    void remove_queue(model::hosted_queue& q);
    detail::proto::stat_body stat_of(const model::hosted_queue& q) const;
    std::size_t unacked_room(const session& c) const noexcept;

    // the delivery window
    delivery_socket* delivery_of(const model::hosted_queue& q) const;
    std::size_t learn_taken(model::hosted_queue& q);
    bool senders_short_of_credit(const model::hosted_queue& q);
    void take_back(model::hosted_queue& q);
    void settle_for(model::hosted_queue& q, selector which);
    void feed_later(model::hosted_queue& q);
    void feed(model::hosted_queue& q);
    void close_delivery(model::hosted_queue& q);
    void stop_waiting_on_delivery(session& c, bool gave_up);
    struct delivery;
    void watch_delivery(const model::hosted_queue& q, delivery& d);

    const server_options& options_;
    session_table& sessions_;
    model::memory_budget budget_;
    model::registry registry_;
    buffer_pool buffers_;
    std::size_t max_request_;
    std::vector<std::byte> outgoing_;        // the reply being built; reused
    std::vector<detail::batch_entry> batch_; // the messages of the batch being served
    // The sessions bound to each queue: told of removal, asked for their credit back.
    std::unordered_map<const model::hosted_queue*, std::vector<session*>> bound_;
    int poller_;
    persistence* durable_ = nullptr; // the state directory, if any
    log_limiter refusal_lines_{20};  // limits that clients can meet at will
    struct delivery {
        std::unique_ptr<delivery_socket> socket;
        model::hosted_queue* queue;
        std::uint32_t events = 0; // what epoll watches on the writing end
        // The sessions attached, and the smallest buffer they take records with: a longer
        // message is not written, `ask` records are, one for each of them.
        std::size_t attached = 0;
        std::uint64_t buffer = UINT64_MAX;
    };
    void count_attached(model::hosted_queue& q);
    std::unordered_map<const model::hosted_queue*, delivery> deliveries_;
    std::vector<model::hosted_queue*> to_feed_; // queues that changed this turn
    std::vector<std::uint64_t> returned_;       // arrivals read back from a delivery socket
};

} // namespace seqmq::daemon
