// karaoke-request: asks for a song and prints the list still waiting — without taking anything
// off the queue, which msgrcv alone could not do.
//
//   karaoke-request SONG [--singer NAME] [--queue NAME]
//
// Prints one line: who asked, the request's number (its arrival at the queue), and the songs
// still waiting, oldest first — one consistent snapshot. The daemon: $SEQMQ_DAEMON, else the
// default path (see `seqmqd --help`).
#include <seqmq/queue.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unistd.h>

int main(int argc, char** argv) {
    std::string song, singer = std::getenv("USER") ? std::getenv("USER") : "someone";
    std::string queue_name = "karaoke";
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf("usage: karaoke-request SONG [--singer NAME] [--queue NAME]\n");
            return 0;
        }
        if ((a == "--singer" || a == "--queue") && i + 1 < argc)
            (a == "--singer" ? singer : queue_name) = argv[++i];
        else if (song.empty() && !a.starts_with("--"))
            song = a;
        else {
            std::fprintf(stderr, "usage: karaoke-request SONG [--singer NAME] [--queue NAME]\n");
            return 2;
        }
    }
    if (song.empty() || song.find('\t') != std::string::npos ||
        singer.find('\t') != std::string::npos) {
        std::fprintf(stderr, "karaoke-request: give a SONG (no tabs in it or in the singer)\n");
        return 2;
    }

    auto q = seqmq::queue::open(queue_name, seqmq::open_flags::create, 0666);
    if (!q) {
        std::fprintf(stderr, "karaoke-request: cannot open queue '%s': %s (is seqmqd running?)\n",
                     queue_name.c_str(), q.error().message().c_str());
        return 1;
    }
    std::string request = song + "\t" + singer;
    if (auto r = q->send(1, std::as_bytes(std::span(request))); !r) {
        std::fprintf(stderr, "karaoke-request: %s\n", r.error().message().c_str());
        return 1;
    }
    // The same connection: the snapshot is taken after our request went in.
    auto waiting = q->peek_all();
    if (!waiting) {
        std::fprintf(stderr, "karaoke-request: %s\n", waiting.error().message().c_str());
        return 1;
    }
    std::string mine = "?", list;
    for (const auto& m : *waiting) {
        std::string text(reinterpret_cast<const char*>(m.data.data()), m.data.size());
        auto tab = text.find('\t');
        std::string title = text.substr(0, tab), who = text.substr(tab + 1);
        if (text == request && m.sender_pid == ::getpid())
            mine = std::to_string(m.arrival);
        list += (list.empty() ? "" : " | ") + ("#" + std::to_string(m.arrival)) + " " + title +
                " (" + who + ")";
    }
    if (list.empty())
        list = "(nothing: the player has taken it already)";
    // One write, so that lines of concurrent clients do not mix.
    std::string line =
        singer + " requested #" + mine + " \"" + song + "\"; still waiting: " + list + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    return 0;
}
