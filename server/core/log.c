#include "tandem/log.h"
#include "tandem/err.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = TDM_LOG_INFO;

void tdm_log_set_level(enum tdm_log_level level)
{
    atomic_store(&g_level, (int)level);
}

bool tdm_log_enabled(enum tdm_log_level level)
{
    return (int)level <= atomic_load(&g_level);
}

int tdm_log_parse_level(const char *s, enum tdm_log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = (enum tdm_log_level)i;
            return 0;
        }
    }
    return TDM_EINVAL;
}

static void vlog(enum tdm_log_level level, const char *fmt, va_list ap)
{
    static const char *tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, tags[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void tdm_log(enum tdm_log_level level, const char *fmt, ...)
{
    if (!tdm_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void tdm_log_limited(struct tdm_log_limiter *lim, int per_10s, int64_t now_us,
                     enum tdm_log_level level, const char *fmt, ...)
{
    if (!tdm_log_enabled(level))
        return;
    if (now_us - lim->window_start_us >= 10000000) {
        if (lim->suppressed)
            tdm_log(level, "(%u similar lines suppressed in the last 10 s)", lim->suppressed);
        lim->window_start_us = now_us;
        lim->in_window = 0;
        lim->suppressed = 0;
    }
    if (lim->in_window >= (uint32_t)per_10s) {
        lim->suppressed++;
        return;
    }
    lim->in_window++;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}
