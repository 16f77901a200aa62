// The words of one `seqmq` subcommand, read with CLI11; and the numbers they hold, each checked
// against its exact range. A word that does not fit is a usage error (exit status 2).
#pragma once

#include <seqmq/message.hpp>

#include <CLI/CLI.hpp>

#include <charconv>
#include <concepts>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seqmq::tool {

/// What the user typed does not fit the command: reported with a pointer to --help, exit 2.
struct usage_failure {
    std::string what;
};

/// `text` as a number in [lo, hi], written in `base` (8 or 10): digits only, a '-' first for
/// signed types; no '+', blanks, prefix or suffix. Nothing if it is not exactly that, or out of
/// range (never wrapped round or clamped).
template <std::integral T>
std::optional<T> parse_integer(std::string_view text, T lo, T hi, int base = 10) {
    T value{};
    const char* last = text.data() + text.size();
    auto [end, ec] = std::from_chars(text.data(), last, value, base);
    if (text.empty() || ec != std::errc{} || end != last || value < lo || value > hi)
        return std::nullopt;
    return value;
}

/// Whether a duration option takes `inf` ("wait for ever").
enum class forever { refused, allowed };

/// The longest wait a duration option takes, in seconds (about 31 years): the deadline it makes
/// stays far inside steady_clock's range. Longer waits are `inf`.
constexpr double max_seconds = 1e9;

/// `text` as seconds in [lo, hi] (a decimal number such as 1.5 or 2e3), rounded up to whole
/// milliseconds so that a positive wait never becomes no wait; with forever::allowed, `inf` or
/// `infinity` is a wait without limit (the value std::nullopt). Nothing for anything else: NaN,
/// a sign other than the number's own '-', hex, out of range.
std::optional<timeout> parse_seconds(std::string_view text, double lo, double hi, forever f);

/// One subcommand's command line: its options, flags and positional words, parsed by CLI11.
/// The usage texts stay the tool's own (CLI11's --help is off; the caller answers --help
/// before parsing). Every number goes through parse_integer/parse_seconds, so each is range
/// checked exactly and a bad one names the option, its range and the word given.
class command_line {
public:
    explicit command_line(std::string command);

    /// --NAME without a value.
    void flag(const std::string& name, bool& out);
    /// --NAME TEXT (or --NAME=TEXT), any text.
    void text(const std::string& name, std::optional<std::string>& out);
    /// --NAME N: an integer of [lo, hi]; `what` says what it is ("a message type").
    template <std::integral T>
    void integer(const std::string& name, std::optional<T>& out, T lo, T hi,
                 const std::string& what, int base = 10) {
        app_.add_option_function<std::string>(name, [=, &out](const std::string& word) {
            out = parse_integer<T>(word, lo, hi, base);
            if (!out)
                throw CLI::ValidationError(
                    name + " " +
                    range_text(what, word, number_text(lo, base), number_text(hi, base)));
        });
    }
    /// --NAME S: seconds of [lo, hi], or `inf` (out stays std::nullopt) with forever::allowed.
    void seconds(const std::string& name, timeout& out, double lo, double hi, forever f);
    /// The positional words, in order (after `--` every word is one).
    void words(std::vector<std::string>& out);

    /// Parses `args` (the words after the subcommand's name).
    /// Errors: throws usage_failure with CLI11's or the range check's message.
    void parse(std::span<const std::string_view> args);

    /// "takes WHAT, LO to HI; not 'WORD'".
    static std::string range_text(const std::string& what, std::string_view word,
                                  const std::string& lo, const std::string& hi);

    /// `v` written in `base`; octal with a leading 0, as modes are written (0777).
    template <std::integral T>
    static std::string number_text(T v, int base) {
        char digits[72];
        const std::string text(digits, std::to_chars(digits, digits + sizeof digits, v, base).ptr);
        return base == 8 && text != "0" ? "0" + text : text;
    }

private:
    CLI::App app_;
};

} // namespace seqmq::tool
