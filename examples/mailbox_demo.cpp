// Two processes: the parent owns a mailbox; a child sends songs, announcements and a stop
// request of different types. The parent lists the backlog, peeks, then receives selectively.
#include <seqmq/mailbox.hpp>
#include <seqmq/sender.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <unistd.h>

namespace {

enum : long { stop = 1, song = 2, announcement = 3 };

const char* kind(long type) {
    switch (type) {
    case stop:
        return "stop";
    case song:
        return "song";
    case announcement:
        return "announcement";
    }
    return "?";
}

std::string_view text(const std::vector<std::byte>& data) {
    return {reinterpret_cast<const char*>(data.data()), data.size()};
}

int child(const seqmq::address& where) {
    seqmq::sender_options options;
    options.wait_for_mailbox = std::chrono::seconds(5);
    auto to = seqmq::sender::connect(where, options);
    if (!to) {
        std::fprintf(stderr, "child: connect %s: %s\n", where.to_string().c_str(),
                     to.error().message().c_str());
        return 1;
    }
    const std::pair<long, std::string_view> messages[] = {
        {song, "Bohemian Rhapsody"}, {announcement, "welcome to karaoke night"},
        {song, "Dancing Queen"},     {song, "Wonderwall"},
        {stop, "last call"},         {announcement, "two songs left"},
    };
    for (auto [type, body] : messages) {
        if (auto r = to->send(type, std::as_bytes(std::span(body))); !r) {
            std::fprintf(stderr, "child: send: %s\n", r.error().message().c_str());
            return 1;
        }
        std::printf("  child %d sent   type %ld (%s) \"%.*s\"\n", ::getpid(), type, kind(type),
                    int(body.size()), body.data());
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    auto where = seqmq::address::parse(argc > 1 ? argv[1]
                                                : "unix:@seqmq-demo." + std::to_string(::getpid()));
    if (!where) {
        std::fprintf(stderr, "mailbox-demo: bad address: %s\n", where.error().message().c_str());
        return 2;
    }
    auto box = seqmq::mailbox::open(*where);
    if (!box) {
        std::fprintf(stderr, "mailbox-demo: open %s: %s\n", where->to_string().c_str(),
                     box.error().message().c_str());
        return 1;
    }
    std::printf("parent %d owns mailbox %s\n", ::getpid(),
                box->bound_address().to_string().c_str());
    std::fflush(stdout);

    pid_t pid = ::fork();
    if (pid == 0) {
        int rc = child(*where);
        std::fflush(stdout); // _exit does not flush stdio
        ::_exit(rc);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;

    std::printf("\nthe backlog, listed without taking anything:\n");
    auto backlog = box->list(); // keep the result alive: the loop walks the vector inside it
    if (!backlog) {
        std::fprintf(stderr, "mailbox-demo: list: %s\n", backlog.error().message().c_str());
        return 1;
    }
    for (const auto& m : *backlog)
        std::printf("  #%llu type %ld (%-12s) %3zu bytes from pid %d\n",
                    static_cast<unsigned long long>(m.arrival), m.type, kind(m.type), m.size,
                    m.sender_pid);

    auto next_song = box->peek(seqmq::selector::of_type(song));
    std::printf("\npeek at the next song: \"%.*s\" (still queued: %zu messages)\n",
                int(next_song->data.size()), text(next_song->data).data(), box->stat()->count);

    auto take = [&](seqmq::selector which, const char* what) {
        auto m = box->receive(which, seqmq::receive_flags::nowait);
        if (!m) {
            std::printf("  %-36s -> %s\n", what, m.error().message().c_str());
            return;
        }
        std::printf("  %-36s -> type %ld \"%.*s\"\n", what, m->type, int(m->data.size()),
                    text(m->data).data());
    };
    std::printf("\nselective receives (msgrcv rules):\n");
    take(seqmq::selector::of_type(stop), "type 1 (stop) first, wherever it is");
    take(seqmq::selector::except_type(song), "anything but a song");
    take(seqmq::selector::lowest_up_to(3), "lowest type <= 3");
    take(seqmq::selector::any(), "the oldest, whatever its type");
    take(seqmq::selector::of_type(song), "the next song");
    take(seqmq::selector::any(), "the oldest");
    take(seqmq::selector::any(), "the oldest (queue is empty now)");
    return 0;
}
