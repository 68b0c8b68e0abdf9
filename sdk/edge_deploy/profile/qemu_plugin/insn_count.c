/*
 * insn_count: a QEMU TCG plugin that counts, exactly, how many times each guest instruction
 * executes and which memory each one touches, and splits those counts into segments at
 * profiling marks.
 *
 * Part of edge-deploy (edge_deploy.profile). Built on demand with the host C compiler by
 * edge_deploy.profile.plugin_build; loaded with
 *
 *   qemu-system-arm ... -plugin libinsn_count.so,out=PATH[,mark_pads=LO:HI]
 *       [,region=NAME:LO:HI ...][,cached=LO:HI,fetch_lines=READ:LINE,data_lines=LINE]
 *
 * Counting: every instruction gets its own inline "add 1" op on a 64-bit counter owned by its
 * guest address. Per-instruction (not per-block) counters stay exact when a block is left
 * half-way (semihosting BKPT, exceptions, and the I/O re-translation QEMU does under -icount,
 * which re-runs an MMIO instruction in an uninstrumented one-instruction block).
 *
 * Data accesses: a memory callback on every instruction records each load and store it makes:
 * how many, how many bytes, how many are misaligned (a halfword at an odd address, a word at an
 * address that is 2 mod 4, a word at an odd address), by the named address region they fall in
 * (region=NAME:LO:HI, repeatable; a name may cover several ranges; "-" is outside them all).
 *
 * Line reuse (only with cached=LO:HI, the memory behind a flash accelerator): for every load
 * from that range, the LRU stack distance of its line of data_lines bytes among the data lines
 * loaded so far (0: the same line as the last one, 1: one other line since, ...); for
 * instruction fetch, every time execution moves to another read line of READ bytes in that
 * range, whether it is the next sequential read line ("seq") or not ("jump"), and the LRU stack
 * distance of its line of LINE bytes among the instruction lines so far. Distances are kept in
 * buckets: 0, 1, 2-3, 4-7, ..., 64-127, and 128 or more / never seen. A fully associative LRU
 * cache of C = 2^k lines holds exactly the accesses of buckets 0..k. These are facts about the
 * access stream; the cycle model (cycle_model.py, docs/cycle-model.md) prices them.
 *
 * Marks: QEMU 7.2 gives plugins neither registers nor memory contents, so a mark is encoded in
 * an address. The firmware's marker function jumps to pad number `mark` of a run of 2-byte
 * instructions (the mark_pads range); an execution callback on each pad tells the plugin which
 * mark was made, and the counts since the previous mark are closed into a segment. See
 * docs/profiling.md.
 *
 * Output (text, sorted, deterministic), written when QEMU exits:
 *   edge-deploy-insn-count 2
 *   region NAME LO HI            the regions given, in order
 *   lines READ LINE DATA         fetch read line, fetch cache line, data cache line (0 0 0: off)
 *   insn ADDR SIZE BYTES         one line per instruction seen (hex address, bytes in hex)
 *   segment INDEX MARK           MARK is -1 for the segment before the first mark
 *   ADDR COUNT                   executions in this segment, non-zero only
 *   mem ADDR NAME LOADS STORES LOAD_BYTES STORE_BYTES MIS_H MIS_W2 MIS_W1
 *   reuse ADDR data|seq|jump B:N[,B:N...]   line reuse by distance bucket B, non-zero only
 *   end TOTAL
 *
 * Debian's QEMU ships no qemu-plugin.h, so the few API types and functions used below are
 * declared here, following the public plugin API of QEMU 7.2 (API version 1).
 */

#define _GNU_SOURCE /* open_memstream */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API (the subset this plugin uses) ------------------------------------ */

#define ED_PLUGIN_EXPORT __attribute__((visibility("default")))
#define ED_QEMU_PLUGIN_API_VERSION 1

typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;

typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                                          void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);

ED_PLUGIN_EXPORT int qemu_plugin_version = ED_QEMU_PLUGIN_API_VERSION;

/* ---- options --------------------------------------------------------------------------- */

#define MAX_RANGES 16
#define MAX_NAMES 8
#define NAME_LEN 24
#define OUTSIDE MAX_NAMES        /* index of the "-" (outside every region) access counters */
#define PAD_BYTES 2              /* one 16-bit Thumb instruction per mark */
#define N_BUCKETS 9              /* reuse distance buckets: 0, 1, 2-3, ..., 64-127, far */
#define LRU_DEPTH 128            /* distances from 128 on (and first touches) share the last bucket */

typedef struct {
    uint64_t lo, hi;
    int name;
} range_t;

static char *out_path;
static uint64_t pads_lo, pads_hi;
static bool marks_enabled;
static range_t ranges[MAX_RANGES];
static int n_ranges;
static char names[MAX_NAMES][NAME_LEN];
static int n_names;
static uint64_t cached_lo, cached_hi;   /* the range behind the flash accelerator */
static bool cached_enabled;
static uint64_t fetch_read_bytes, fetch_line_bytes, data_line_bytes;
static bool out_of_memory;

/* ---- per-instruction state --------------------------------------------------------------- */

enum { MIS_HALF, MIS_WORD2, MIS_WORD1, N_MIS };
enum { REUSE_DATA, REUSE_SEQ, REUSE_JUMP, N_REUSE };
static const char *const reuse_names[N_REUSE] = {"data", "seq", "jump"};

typedef struct {
    uint64_t loads, stores, load_bytes, store_bytes;
    uint64_t misaligned[N_MIS];
} access_t;

/* Accesses and line reuse since the last mark; allocated on the first access. */
typedef struct {
    access_t by_name[MAX_NAMES + 1];
    uint64_t reuse[N_REUSE][N_BUCKETS];
} stats_t;

/* One guest instruction. Its address never moves once created: generated code holds a pointer
 * to `count`. */
typedef struct {
    uint64_t count;     /* executions so far (incremented by inline TCG ops) */
    uint64_t closed;    /* count at the last mark: the current segment is count - closed */
    uint64_t addr;
    stats_t *stats;
    uint8_t size;
    uint8_t bytes[4];
} site_t;

#define SITES_PER_CHUNK 4096

static site_t **chunks;          /* stable storage for sites */
static size_t n_chunks, n_sites;
static site_t **table;           /* open addressing hash: address -> site */
static size_t table_cap;         /* power of two */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Closed segments, already formatted: the body of the output file. */
static FILE *body;
static char *body_text;
static size_t body_len;
static size_t n_segs;
static uint64_t total_count;
static int64_t current_mark = -1;

/* LRU stacks of line numbers, most recent first. */
typedef struct {
    uint64_t line[LRU_DEPTH];
    int n;
} lru_t;

static lru_t data_lru, fetch_lru;
static uint64_t current_read_line = UINT64_MAX;

static size_t hash_addr(uint64_t addr)
{
    /* Thumb addresses are 2-byte aligned; mix the bits so nearby code spreads out. */
    uint64_t h = (addr >> 1) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17);
}

static void table_put(site_t *site)
{
    size_t mask = table_cap - 1;
    size_t i = hash_addr(site->addr) & mask;
    while (table[i]) {
        i = (i + 1) & mask;
    }
    table[i] = site;
}

static bool table_rehash(size_t new_cap)
{
    site_t **old = table;
    size_t old_cap = table_cap;
    table = calloc(new_cap, sizeof(*table));
    if (!table) {
        table = old;
        return false;
    }
    table_cap = new_cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i]) {
            table_put(old[i]);
        }
    }
    free(old);
    return true;
}

/* Find or create the site of one instruction; called at translation time, under `lock`. */
static site_t *site_for(uint64_t addr, const uint8_t *data, size_t size)
{
    if (table_cap == 0 && !table_rehash(1 << 14)) {
        return NULL;
    }
    size_t mask = table_cap - 1;
    for (size_t i = hash_addr(addr) & mask; table[i]; i = (i + 1) & mask) {
        if (table[i]->addr == addr) {
            return table[i];
        }
    }
    if ((n_sites + 1) * 2 > table_cap && !table_rehash(table_cap * 2)) {
        return NULL;
    }
    if (n_sites == n_chunks * SITES_PER_CHUNK) {
        site_t **c = realloc(chunks, (n_chunks + 1) * sizeof(*chunks));
        if (!c) {
            return NULL;
        }
        chunks = c;
        chunks[n_chunks] = calloc(SITES_PER_CHUNK, sizeof(site_t));
        if (!chunks[n_chunks]) {
            return NULL;
        }
        n_chunks++;
    }
    site_t *site = &chunks[n_sites / SITES_PER_CHUNK][n_sites % SITES_PER_CHUNK];
    n_sites++;
    site->addr = addr;
    site->size = (uint8_t)(size > 4 ? 4 : size);
    memcpy(site->bytes, data, site->size);
    table_put(site);
    return site;
}

static site_t *site_at(size_t index)
{
    return &chunks[index / SITES_PER_CHUNK][index % SITES_PER_CHUNK];
}

static stats_t *stats_of(site_t *site)
{
    if (!site->stats) {
        site->stats = calloc(1, sizeof(stats_t));
        if (!site->stats) {
            out_of_memory = true;
        }
    }
    return site->stats;
}

/* ---- line reuse -------------------------------------------------------------------------- */

/* Move `line` to the front of `lru`; return its previous depth (-1 if it was not there). */
static int lru_touch(lru_t *lru, uint64_t line)
{
    int depth = -1;
    for (int i = 0; i < lru->n; i++) {
        if (lru->line[i] == line) {
            depth = i;
            break;
        }
    }
    int last = depth >= 0 ? depth : (lru->n < LRU_DEPTH ? lru->n++ : LRU_DEPTH - 1);
    memmove(&lru->line[1], &lru->line[0], (size_t)last * sizeof(lru->line[0]));
    lru->line[0] = line;
    return depth;
}

/* Bucket b holds distances d with bit_length(d) == b (0 -> 0, 1 -> 1, 2-3 -> 2, ...). */
static int bucket_of(int depth)
{
    if (depth < 0) {
        return N_BUCKETS - 1;
    }
    int b = 0;
    while (depth) {
        b++;
        depth >>= 1;
    }
    return b;
}

static bool in_cached(uint64_t addr)
{
    return cached_enabled && addr >= cached_lo && addr < cached_hi;
}

/* ---- callbacks --------------------------------------------------------------------------- */

static int name_of(uint64_t vaddr)
{
    for (int i = 0; i < n_ranges; i++) {
        if (vaddr >= ranges[i].lo && vaddr < ranges[i].hi) {
            return ranges[i].name;
        }
    }
    return OUTSIDE;
}

static void on_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *userdata)
{
    (void)vcpu_index;
    stats_t *stats = stats_of((site_t *)userdata);
    if (!stats) {
        return;
    }
    unsigned size = 1u << qemu_plugin_mem_size_shift(info);
    access_t *acc = &stats->by_name[name_of(vaddr)];
    if (qemu_plugin_mem_is_store(info)) {
        acc->stores++;
        acc->store_bytes += size;
    } else {
        acc->loads++;
        acc->load_bytes += size;
        if (in_cached(vaddr) && data_line_bytes) {
            stats->reuse[REUSE_DATA][bucket_of(lru_touch(&data_lru, vaddr / data_line_bytes))]++;
        }
    }
    if (size == 2 && (vaddr & 1u)) {
        acc->misaligned[MIS_HALF]++;
    } else if (size == 4 && (vaddr & 3u) == 2u) {
        acc->misaligned[MIS_WORD2]++;
    } else if (size == 4 && (vaddr & 1u)) {
        acc->misaligned[MIS_WORD1]++;
    }
}

/* Registered on every instruction that may start a new fetch read line (see on_translate). */
static void on_fetch(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    site_t *site = userdata;
    uint64_t read_line = site->addr / fetch_read_bytes;
    if (read_line == current_read_line) {
        return;
    }
    int kind = read_line == current_read_line + 1 ? REUSE_SEQ : REUSE_JUMP;
    current_read_line = read_line;
    stats_t *stats = stats_of(site);
    if (stats) {
        stats->reuse[kind][bucket_of(lru_touch(&fetch_lru, site->addr / fetch_line_bytes))]++;
    }
}

/* ---- segments ------------------------------------------------------------------------------ */

static int compare_sites(const void *a, const void *b)
{
    const site_t *x = *(site_t *const *)a, *y = *(site_t *const *)b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

static site_t **sorted_sites(void)
{
    site_t **sorted = malloc((n_sites ? n_sites : 1) * sizeof(*sorted));
    if (!sorted) {
        out_of_memory = true;
        return NULL;
    }
    for (size_t i = 0; i < n_sites; i++) {
        sorted[i] = site_at(i);
    }
    qsort(sorted, n_sites, sizeof(*sorted), compare_sites);
    return sorted;
}

static void write_stats(const site_t *site, stats_t *stats)
{
    for (int n = 0; n <= MAX_NAMES; n++) {
        const access_t *a = &stats->by_name[n];
        if (!a->loads && !a->stores) {
            continue;
        }
        fprintf(body, "mem 0x%08" PRIx64 " %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                " %" PRIu64 "\n", site->addr, n == OUTSIDE ? "-" : names[n], a->loads, a->stores, a->load_bytes,
                a->store_bytes, a->misaligned[MIS_HALF], a->misaligned[MIS_WORD2], a->misaligned[MIS_WORD1]);
    }
    for (int k = 0; k < N_REUSE; k++) {
        bool any = false;
        for (int b = 0; b < N_BUCKETS; b++) {
            if (!stats->reuse[k][b]) {
                continue;
            }
            if (!any) {
                fprintf(body, "reuse 0x%08" PRIx64 " %s ", site->addr, reuse_names[k]);
            }
            fprintf(body, "%s%d:%" PRIu64, any ? "," : "", b, stats->reuse[k][b]);
            any = true;
        }
        if (any) {
            fputc('\n', body);
        }
    }
    memset(stats, 0, sizeof(*stats));
}

/* Close the running segment: write every non-zero count and access since the last mark. */
static void close_segment(void)
{
    if (!body) {
        return;
    }
    site_t **sorted = sorted_sites();
    if (!sorted) {
        return;
    }
    fprintf(body, "segment %zu %" PRId64 "\n", n_segs++, current_mark);
    for (size_t i = 0; i < n_sites; i++) {
        site_t *site = sorted[i];
        uint64_t delta = site->count - site->closed;
        if (delta) {
            fprintf(body, "0x%08" PRIx64 " %" PRIu64 "\n", site->addr, delta);
            total_count += delta;
            site->closed = site->count;
        }
    }
    for (size_t i = 0; i < n_sites; i++) {
        if (sorted[i]->stats) {
            write_stats(sorted[i], sorted[i]->stats);
        }
    }
    free(sorted);
}

static void on_mark(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    pthread_mutex_lock(&lock);
    close_segment();
    current_mark = (int64_t)(uintptr_t)userdata;
    pthread_mutex_unlock(&lock);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    bool tracks_fetch = cached_enabled && fetch_read_bytes;
    uint64_t previous_line = UINT64_MAX;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t addr = qemu_plugin_insn_vaddr(insn);
        site_t *site = site_for(addr, qemu_plugin_insn_data(insn), qemu_plugin_insn_size(insn));
        if (!site) {
            out_of_memory = true;
            continue;
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &site->count, 1);
        qemu_plugin_register_vcpu_mem_cb(insn, on_mem, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, site);
        /* Execution can only enter another read line at a block's first instruction or where
         * the line changes inside the block: only those need a fetch callback. */
        if (tracks_fetch) {
            uint64_t read_line = addr / fetch_read_bytes;
            if (in_cached(addr) && read_line != previous_line) {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_fetch, QEMU_PLUGIN_CB_NO_REGS, site);
            }
            previous_line = read_line;
        }
        if (marks_enabled && addr >= pads_lo && addr < pads_hi && (addr - pads_lo) % PAD_BYTES == 0) {
            uintptr_t mark = (uintptr_t)((addr - pads_lo) / PAD_BYTES);
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, (void *)mark);
        }
    }
    pthread_mutex_unlock(&lock);
}

/* ---- output ------------------------------------------------------------------------------- */

static void write_output(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    pthread_mutex_lock(&lock);
    close_segment();
    if (body) {
        fclose(body);
        body = NULL;
    }
    if (out_of_memory || !body_text) {
        fputs("insn_count: out of memory, counts incomplete\n", stderr);
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.part", out_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fputs("insn_count: cannot open the output file\n", stderr);
        pthread_mutex_unlock(&lock);
        return;
    }
    fprintf(f, "edge-deploy-insn-count 2\n");
    for (int i = 0; i < n_ranges; i++) {
        fprintf(f, "region %s 0x%08" PRIx64 " 0x%08" PRIx64 "\n", names[ranges[i].name], ranges[i].lo, ranges[i].hi);
    }
    fprintf(f, "lines %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", cached_enabled ? fetch_read_bytes : 0,
            cached_enabled ? fetch_line_bytes : 0, cached_enabled ? data_line_bytes : 0);
    site_t **sorted = sorted_sites();
    for (size_t i = 0; sorted && i < n_sites; i++) {
        fprintf(f, "insn 0x%08" PRIx64 " %u ", sorted[i]->addr, sorted[i]->size);
        for (unsigned b = 0; b < sorted[i]->size; b++) {
            fprintf(f, "%02x", sorted[i]->bytes[b]);
        }
        fputc('\n', f);
    }
    free(sorted);
    if (body_text) {
        fwrite(body_text, 1, body_len, f);
    }
    fprintf(f, "end %" PRIu64 "%s\n", total_count, out_of_memory ? " incomplete" : "");
    /* Rename only a complete file, so a reader never sees a half-written one. */
    if (fclose(f) != 0 || rename(tmp, out_path) != 0) {
        fputs("insn_count: cannot write the output file\n", stderr);
    }
    pthread_mutex_unlock(&lock);
}

/* ---- arguments ---------------------------------------------------------------------------- */

static bool parse_range(const char *text, uint64_t *lo, uint64_t *hi)
{
    char *end;
    *lo = strtoull(text, &end, 0);
    if (*end != ':') {
        return false;
    }
    *hi = strtoull(end + 1, &end, 0);
    return *end == '\0' && *hi > *lo;
}

static bool power_of_two(uint64_t x)
{
    return x && !(x & (x - 1));
}

/* region=NAME:LO:HI */
static bool parse_region(const char *text)
{
    const char *colon = strchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : 0;
    if (!colon || len == 0 || len >= NAME_LEN || n_ranges == MAX_RANGES || strchr(text, ' ')) {
        return false;
    }
    int name = -1;
    for (int i = 0; i < n_names; i++) {
        if (strlen(names[i]) == len && strncmp(names[i], text, len) == 0) {
            name = i;
        }
    }
    if (name < 0) {
        if (n_names == MAX_NAMES) {
            return false;
        }
        name = n_names++;
        memcpy(names[name], text, len);
        names[name][len] = '\0';
    }
    range_t *r = &ranges[n_ranges];
    if (!parse_range(colon + 1, &r->lo, &r->hi)) {
        return false;
    }
    r->name = name;
    n_ranges++;
    return true;
}

/* fetch_lines=READ:LINE, both powers of two, LINE a multiple of READ */
static bool parse_fetch_lines(const char *text)
{
    char *end;
    fetch_read_bytes = strtoull(text, &end, 0);
    if (*end != ':') {
        return false;
    }
    fetch_line_bytes = strtoull(end + 1, &end, 0);
    return *end == '\0' && power_of_two(fetch_read_bytes) && power_of_two(fetch_line_bytes) &&
           fetch_line_bytes >= fetch_read_bytes;
}

typedef enum { ARG_OK, ARG_BAD, ARG_UNKNOWN } arg_status_t;

static arg_status_t parse_argument(const char *arg)
{
    bool ok;
    if (strncmp(arg, "out=", 4) == 0) {
        out_path = strdup(arg + 4);
        ok = out_path != NULL;
    } else if (strncmp(arg, "mark_pads=", 10) == 0) {
        ok = marks_enabled = parse_range(arg + 10, &pads_lo, &pads_hi);
    } else if (strncmp(arg, "region=", 7) == 0) {
        ok = parse_region(arg + 7);
    } else if (strncmp(arg, "cached=", 7) == 0) {
        ok = cached_enabled = parse_range(arg + 7, &cached_lo, &cached_hi);
    } else if (strncmp(arg, "fetch_lines=", 12) == 0) {
        ok = parse_fetch_lines(arg + 12);
    } else if (strncmp(arg, "data_lines=", 11) == 0) {
        char *end;
        data_line_bytes = strtoull(arg + 11, &end, 0);
        ok = *end == '\0' && power_of_two(data_line_bytes);
    } else {
        return ARG_UNKNOWN;
    }
    return ok ? ARG_OK : ARG_BAD;
}

ED_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                         char **argv)
{
    (void)info;
    /* Errors go to stderr: qemu_plugin_outs only reaches the log, which is off by default. */
    for (int i = 0; i < argc; i++) {
        switch (parse_argument(argv[i])) {
        case ARG_OK:
            break;
        case ARG_BAD:
            fprintf(stderr, "insn_count: bad value in '%s' (ranges LO:HI, line sizes powers of two)\n", argv[i]);
            return -1;
        case ARG_UNKNOWN:
            fprintf(stderr, "insn_count: unknown argument '%s' (known: out, mark_pads, region, cached, "
                    "fetch_lines, data_lines)\n", argv[i]);
            return -1;
        }
    }
    if (!out_path || !*out_path) {
        fprintf(stderr, "insn_count: missing out=PATH\n");
        return -1;
    }
    if (cached_enabled && (!fetch_read_bytes || !data_line_bytes)) {
        fprintf(stderr, "insn_count: cached=LO:HI needs fetch_lines=READ:LINE and data_lines=LINE\n");
        return -1;
    }
    body = open_memstream(&body_text, &body_len);
    if (!body) {
        fprintf(stderr, "insn_count: out of memory\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, write_output, NULL);
    return 0;
}
