// karaoke-player: plays the songs requested on the queue `karaoke`, one at a time, in the order
// they were requested. The founding story of seqmq: requests are msgsnd, playing is msgrcv, and
// the list still waiting is a peek (see karaoke-request).
//
//   karaoke-player [--queue NAME] [--player 'CMD %s'] [--length SECONDS] [--count N]
//
// Without --player, a simulated player prints the song and waits --length seconds (default 0.3).
// With --player, each song runs CMD with %s replaced by the song (quoted for the shell), and the
// next song waits until that child has exited. --count stops after N songs; SIGINT/SIGTERM stop
// it between songs. The daemon: $SEQMQ_DAEMON, else the default path (see `seqmqd --help`).
#include <seqmq/queue.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_stop(int) {
    stop_requested = 1;
}

std::string shell_quote(std::string_view s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs `command` through /bin/sh and waits for it. Returns its exit status.
int run_player(const std::string& command) {
    pid_t pid = ::fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int usage(std::FILE* out, int status) {
    std::fprintf(out, "usage: karaoke-player [--queue NAME] [--player 'CMD %%s'] "
                      "[--length SECONDS] [--count N]\n");
    return status;
}

} // namespace

int main(int argc, char** argv) {
    std::string queue_name = "karaoke", player;
    double length = 0.3;
    long count = -1;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h")
            return usage(stdout, 0);
        if (i + 1 >= argc)
            return usage(stderr, 2);
        if (a == "--queue")
            queue_name = argv[++i];
        else if (a == "--player")
            player = argv[++i];
        else if (a == "--length")
            length = std::atof(argv[++i]);
        else if (a == "--count")
            count = std::atol(argv[++i]);
        else
            return usage(stderr, 2);
    }
    if (!player.empty() && player.find("%s") == std::string::npos) {
        std::fprintf(stderr, "karaoke-player: --player needs %%s where the song goes\n");
        return 2;
    }

    // No SA_RESTART: a signal ends a wait for the next song.
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);

    seqmq::queue_options options;
    options.wait_for_daemon = std::chrono::seconds(5);
    auto q = seqmq::queue::open(queue_name, seqmq::open_flags::create, 0666, options);
    if (!q) {
        std::fprintf(stderr, "karaoke-player: cannot open queue '%s': %s (is seqmqd running?)\n",
                     queue_name.c_str(), q.error().message().c_str());
        return 1;
    }
    std::printf("karaoke-player: waiting for requests on queue '%s'\n", queue_name.c_str());
    std::fflush(stdout);

    for (long played = 0; (count < 0 || played < count) && !stop_requested; ++played) {
        auto song = q->receive();
        if (!song) {
            if (song.error() == std::errc::interrupted)
                break;
            std::fprintf(stderr, "karaoke-player: %s\n", song.error().message().c_str());
            return 1;
        }
        std::string request(reinterpret_cast<const char*>(song->data.data()), song->data.size());
        std::string title = request, singer = "someone";
        if (auto tab = request.find('\t'); tab != std::string::npos) {
            title = request.substr(0, tab);
            singer = request.substr(tab + 1);
        }
        std::printf("now playing #%llu \"%s\" for %s\n",
                    static_cast<unsigned long long>(song->arrival), title.c_str(), singer.c_str());
        std::fflush(stdout);
        if (player.empty()) {
            std::this_thread::sleep_for(std::chrono::duration<double>(length));
        } else {
            std::string command = player;
            command.replace(command.find("%s"), 2, shell_quote(title));
            if (int status = run_player(command); status != 0)
                std::fprintf(stderr, "karaoke-player: player exited with %d\n", status);
        }
        std::printf("finished #%llu\n", static_cast<unsigned long long>(song->arrival));
        std::fflush(stdout);
    }
    std::printf("karaoke-player: done\n");
    return 0;
}
