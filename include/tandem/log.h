/* Logging to stderr with levels. At the default level (info) Tandem logs no IP address,
 * display name, room name or message content: callers log opaque short-lived ids ("r12",
 * "c34") instead. Bad-input lines go through tdm_log_limited so that a flood of garbage
 * never becomes a flood of log lines. Thread-safe (one write(2) per line). */
#ifndef TANDEM_LOG_H
#define TANDEM_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum tdm_log_level { TDM_LOG_ERROR = 0, TDM_LOG_WARN, TDM_LOG_INFO, TDM_LOG_DEBUG };

void tdm_log_set_level(enum tdm_log_level level);
/* Parses "error", "warn", "info", "debug". Returns 0 or TDM_EINVAL. */
int tdm_log_parse_level(const char *s, enum tdm_log_level *out);
bool tdm_log_enabled(enum tdm_log_level level);

void tdm_log(enum tdm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rate-limited log for a class of events (e.g. bad input): at most `per_10s` lines every 10
 * seconds per class; the first line after a quiet period reports how many were suppressed.
 * Counting is atomic-free and per class, so use it from one thread per class. */
struct tdm_log_limiter {
    int64_t window_start_us;
    uint32_t in_window;
    uint32_t suppressed;
};
void tdm_log_limited(struct tdm_log_limiter *lim, int per_10s, int64_t now_us,
                     enum tdm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define TDM_ERROR(...) tdm_log(TDM_LOG_ERROR, __VA_ARGS__)
#define TDM_WARN(...) tdm_log(TDM_LOG_WARN, __VA_ARGS__)
#define TDM_INFO(...) tdm_log(TDM_LOG_INFO, __VA_ARGS__)
#define TDM_DEBUG(...)                                                                             \
    do {                                                                                           \
        if (tdm_log_enabled(TDM_LOG_DEBUG))                                                        \
            tdm_log(TDM_LOG_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

#endif
