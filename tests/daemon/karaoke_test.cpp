// The karaoke demo as a test: examples/karaoke/demo.sh runs seqmqd, a player and three singers
// asking at once. Each singer's waiting list must be a snapshot of the queue (a run of
// consecutive request numbers, its own among those not yet taken) and the player must play
// requests in arrival order, each exactly once.
#define BOOST_TEST_MODULE karaoke demo
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace {

struct run_result {
    int status;
    std::string output;
};

run_result run(const std::string& command) {
    run_result r{-1, {}};
    FILE* p = ::popen(command.c_str(), "r");
    BOOST_TEST_REQUIRE(p != nullptr);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
        r.output.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < s.size()) {
        auto nl = s.find('\n', at);
        if (nl == std::string::npos)
            nl = s.size();
        out.push_back(s.substr(at, nl - at));
        at = nl + 1;
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(three_singers_one_player) {
    const std::string command = std::string("SEQMQD=") + SEQMQD_PATH + " SEQMQ=" + SEQMQ_TOOL +
                                " KARAOKE_PLAYER=" + KARAOKE_PLAYER +
                                " KARAOKE_REQUEST=" + KARAOKE_REQUEST + " SONG_LENGTH=0.2 " +
                                KARAOKE_DEMO + " 2>&1";
    auto r = run(command);
    BOOST_TEST_MESSAGE("demo output:\n" << r.output);
    BOOST_TEST_REQUIRE(r.status == 0, "demo.sh failed:\n" << r.output);

    const std::regex request(R"re(^(\w+) requested #(\d+|\?) "([^"]+)"; still waiting: (.*)$)re");
    const std::regex entry(R"re(#(\d+) ([^|]+) \((\w+)\))re");
    const std::regex playing(R"re(^now playing #(\d+) "([^"]+)" for (\w+)$)re");

    std::map<int, std::pair<std::string, std::string>> listed; // number -> song, singer
    std::map<std::string, std::vector<std::string>> asked;     // singer -> songs, in order
    std::vector<int> played;
    std::vector<std::pair<std::string, std::string>> played_songs;
    int requests = 0;
    for (const auto& line : lines_of(r.output)) {
        std::smatch m;
        if (std::regex_match(line, m, request)) {
            ++requests;
            const std::string singer = m[1], mine = m[2], song = m[3], waiting = m[4];
            asked[singer].push_back(song);
            std::vector<int> numbers;
            bool own_listed = false;
            for (std::sregex_iterator it(waiting.begin(), waiting.end(), entry), end; it != end;
                 ++it) {
                int n = std::stoi((*it)[1]);
                numbers.push_back(n);
                std::string s = (*it)[2], who = (*it)[3];
                auto [pos, fresh] = listed.emplace(n, std::make_pair(s, who));
                BOOST_TEST((pos->second == std::make_pair(s, who)),
                           "request #" << n << " listed differently: " << line);
                if (who == singer && s == song)
                    own_listed = true;
            }
            // A snapshot of a FIFO with one consumer: consecutive numbers.
            for (std::size_t i = 1; i < numbers.size(); ++i)
                BOOST_TEST(numbers[i] == numbers[i - 1] + 1, "not a snapshot: " << line);
            if (mine != "?") {
                BOOST_TEST(own_listed, line);
                BOOST_TEST(!numbers.empty());
                if (!numbers.empty())
                    BOOST_TEST(numbers.back() >= std::stoi(mine), line);
            }
        } else if (std::regex_match(line, m, playing)) {
            played.push_back(std::stoi(m[1]));
            played_songs.emplace_back(m[2], m[3]);
        }
    }
    BOOST_TEST(requests == 9);
    BOOST_TEST_REQUIRE(played.size() == 9u);
    for (int i = 0; i < 9; ++i)
        BOOST_TEST(played[std::size_t(i)] == i + 1, "playback out of arrival order");
    // Everyone's songs, each once, each singer's in the order asked.
    std::map<std::string, std::vector<std::string>> sung;
    for (auto& [song, singer] : played_songs)
        sung[singer].push_back(song);
    BOOST_TEST((sung == asked));
    for (auto& [n, who] : listed)
        BOOST_TEST((played_songs[std::size_t(n - 1)] == who), "#" << n << " played as listed");
    BOOST_TEST(r.output.find("== done") != std::string::npos);
}
