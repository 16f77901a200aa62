// A `completion` for the queue model's tests: it records every answer the model gives, in order,
// and can be told to refuse a hand-over, as the daemon does for a receiver that went away.
#pragma once

#include "daemon/model/hosted_queue.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace seqmq::test {

/// One answer of the model, as the completion saw it.
struct recorded_event {
    enum class kind { hand_over, fail, sent, window_due, credit_wanted };
    kind what = kind::hand_over;
    daemon::model::waiter who{};
    // hand_over: the receiver's buffer and the whole message it was shown.
    std::size_t buffer = 0;
    long type = 0;
    std::uint64_t arrival = 0;
    pid_t sender = 0;
    std::vector<std::byte> data;
    bool parked = false;
    bool accepted = false;                              ///< what hand_over answered
    int error = 0;                                      ///< fail
    const daemon::model::hosted_queue* queue = nullptr; ///< credit_wanted
};

/// One line per event, so that a test compares a whole sequence at once:
///   "hand_over #3 type 2 arrival 5 bytes 10 buffer 4 parked"  (", refused" when refused)
///   "fail #3 E2BIG" / "sent #4" / "window_due #5" / "credit_wanted q1"
inline std::string describe(const recorded_event& e) {
    std::ostringstream s;
    switch (e.what) {
    case recorded_event::kind::hand_over:
        s << "hand_over #" << e.who.request << " type " << e.type << " arrival " << e.arrival
          << " bytes " << e.data.size() << " buffer " << e.buffer
          << (e.parked ? " parked" : " at once") << (e.accepted ? "" : ", refused");
        break;
    case recorded_event::kind::fail: {
        const char* name = ::strerrorname_np(e.error);
        s << "fail #" << e.who.request << " " << (name ? name : std::to_string(e.error).c_str());
        break;
    }
    case recorded_event::kind::sent:
        s << "sent #" << e.who.request;
        break;
    case recorded_event::kind::window_due:
        s << "window_due #" << e.who.request;
        break;
    case recorded_event::kind::credit_wanted:
        s << "credit_wanted q" << (e.queue ? e.queue->id() : 0);
        break;
    }
    return s.str();
}

class recording_completion final : public daemon::model::completion {
public:
    bool hand_over(const daemon::model::waiter& w, std::size_t buffer,
                   const daemon::model::message_view& m, bool parked) override {
        recorded_event e;
        e.what = recorded_event::kind::hand_over;
        e.who = w;
        e.buffer = buffer;
        e.type = m.type;
        e.arrival = m.arrival;
        e.sender = m.sender;
        e.data.assign(m.data.begin(), m.data.end());
        e.parked = parked;
        e.accepted = !refused_.contains({w.owner, w.request});
        events_.push_back(std::move(e));
        return events_.back().accepted;
    }
    void fail(const daemon::model::waiter& w, int error) override {
        recorded_event e;
        e.what = recorded_event::kind::fail;
        e.who = w;
        e.error = error;
        events_.push_back(std::move(e));
    }
    void sent(const daemon::model::waiter& w) override {
        recorded_event e;
        e.what = recorded_event::kind::sent;
        e.who = w;
        events_.push_back(std::move(e));
    }
    // The delivery window's answer, if this model has one (no `override`, so that this
    // completion compiles whether or not the interface declares it).
    void window_due(const daemon::model::waiter& w) {
        recorded_event e;
        e.what = recorded_event::kind::window_due;
        e.who = w;
        events_.push_back(std::move(e));
    }
    void credit_wanted(daemon::model::hosted_queue& q) override {
        recorded_event e;
        e.what = recorded_event::kind::credit_wanted;
        e.queue = &q;
        events_.push_back(std::move(e));
    }

    /// From now on, hand_over to `w` answers false: that receiver went away.
    void refuse(const daemon::model::waiter& w) { refused_.insert({w.owner, w.request}); }

    const std::vector<recorded_event>& events() const noexcept { return events_; }
    /// The events so far, described, and forgets them.
    std::vector<std::string> take_log() {
        std::vector<std::string> log;
        for (const recorded_event& e : events_)
            log.push_back(describe(e));
        events_.clear();
        return log;
    }
    void clear() { events_.clear(); }

private:
    std::vector<recorded_event> events_;
    std::set<std::pair<const void*, std::uint64_t>> refused_;
};

} // namespace seqmq::test
