/*
 * insn_count: a QEMU TCG plugin that counts, exactly, how many times each guest instruction
 * executes, and splits those counts into segments at profiling marks.
 *
 * Part of edge-deploy (edge_deploy.profile). Built on demand with the host C compiler by
 * edge_deploy.profile.plugin_build; loaded with
 *
 *   qemu-system-arm ... -plugin libinsn_count.so,out=PATH[,mark_pads=LO:HI]
 *
 * Counting: every instruction gets its own inline "add 1" op on a 64-bit counter owned by its
 * guest address. Per-instruction (not per-block) counters stay exact when a block is left
 * half-way (semihosting BKPT, exceptions, and the I/O re-translation QEMU does under -icount,
 * which re-runs an MMIO instruction in an uninstrumented one-instruction block).
 *
 * Marks: QEMU 7.2 gives plugins neither registers nor memory contents, so a mark is encoded in
 * an address. The firmware's marker function jumps to pad number `mark` of a run of 2-byte
 * instructions (the mark_pads range); an execution callback on each pad tells the plugin which
 * mark was made, and the counts since the previous mark are closed into a segment. (Memory
 * callbacks would avoid the pads, but QEMU 7.2.22 was seen to drop most of them on TBs that run
 * again; execution callbacks fire every time.) See docs/profiling.md.
 *
 * Output (text, sorted, deterministic), written when QEMU exits:
 *   edge-deploy-insn-count 1
 *   insn ADDR SIZE BYTES         one line per instruction seen (hex address, bytes in hex)
 *   segment INDEX MARK           MARK is -1 for the segment before the first mark
 *   ADDR COUNT                   executions in this segment, non-zero only
 *   end TOTAL
 *
 * Debian's QEMU ships no qemu-plugin.h, so the few API types and functions used below are
 * declared here, following the public plugin API of QEMU 7.2 (API version 1).
 */

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

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);

ED_PLUGIN_EXPORT int qemu_plugin_version = ED_QEMU_PLUGIN_API_VERSION;

/* ---- per-address counters ------------------------------------------------------------ */

/* One guest instruction. Its address never moves once created: generated code holds a pointer
 * to `count`. */
typedef struct {
    uint64_t count;     /* executions so far (incremented by inline TCG ops) */
    uint64_t closed;    /* count at the last mark: the current segment is count - closed */
    uint64_t addr;
    uint8_t size;
    uint8_t bytes[4];
} site_t;

#define SITES_PER_CHUNK 4096

static site_t **chunks;          /* stable storage for sites */
static size_t n_chunks, n_sites;
static site_t **table;           /* open addressing hash: address -> site */
static size_t table_cap;         /* power of two */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Segments closed so far: a flat list of (address, count) with a header per segment. */
typedef struct {
    int64_t mark;
    size_t first;   /* index in seg_entries */
    size_t n;
} segment_t;
typedef struct {
    uint64_t addr;
    uint64_t count;
} entry_t;

static segment_t *segs;
static size_t n_segs, segs_cap;
static entry_t *seg_entries;
static size_t n_entries, entries_cap;
static int64_t current_mark = -1;

/* Options. */
static char *out_path;
#define PAD_BYTES 2   /* one 16-bit Thumb instruction per mark */
static uint64_t pads_lo, pads_hi;
static bool marks_enabled;
static bool out_of_memory;

static void *grow(void *ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return ptr;
    }
    size_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need) {
        cap2 *= 2;
    }
    void *p = realloc(ptr, cap2 * elem);
    if (!p) {
        out_of_memory = true;
        return NULL;
    }
    *cap = cap2;
    return p;
}

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

/* Close the running segment: record every non-zero count since the last mark. */
static void close_segment(void)
{
    segs = grow(segs, &segs_cap, n_segs + 1, sizeof(*segs));
    if (!segs) {
        return;
    }
    segment_t *seg = &segs[n_segs++];
    seg->mark = current_mark;
    seg->first = n_entries;
    seg->n = 0;
    for (size_t i = 0; i < n_sites; i++) {
        site_t *site = site_at(i);
        uint64_t delta = site->count - site->closed;
        if (delta == 0) {
            continue;
        }
        seg_entries = grow(seg_entries, &entries_cap, n_entries + 1, sizeof(*seg_entries));
        if (!seg_entries) {
            return;
        }
        seg_entries[n_entries].addr = site->addr;
        seg_entries[n_entries].count = delta;
        n_entries++;
        seg->n++;
        site->closed = site->count;
    }
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
        if (marks_enabled && addr >= pads_lo && addr < pads_hi && (addr - pads_lo) % PAD_BYTES == 0) {
            uintptr_t mark = (uintptr_t)((addr - pads_lo) / PAD_BYTES);
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, (void *)mark);
        }
    }
    pthread_mutex_unlock(&lock);
}

static int compare_entries(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

static int compare_sites(const void *a, const void *b)
{
    const site_t *x = *(site_t *const *)a, *y = *(site_t *const *)b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

static void write_output(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    pthread_mutex_lock(&lock);
    close_segment();
    if (out_of_memory) {
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
    fprintf(f, "edge-deploy-insn-count 1\n");
    site_t **sorted = malloc((n_sites ? n_sites : 1) * sizeof(*sorted));
    for (size_t i = 0; sorted && i < n_sites; i++) {
        sorted[i] = site_at(i);
    }
    if (sorted) {
        qsort(sorted, n_sites, sizeof(*sorted), compare_sites);
        for (size_t i = 0; i < n_sites; i++) {
            fprintf(f, "insn 0x%08" PRIx64 " %u ", sorted[i]->addr, sorted[i]->size);
            for (unsigned b = 0; b < sorted[i]->size; b++) {
                fprintf(f, "%02x", sorted[i]->bytes[b]);
            }
            fputc('\n', f);
        }
        free(sorted);
    }
    uint64_t total = 0;
    for (size_t s = 0; s < n_segs; s++) {
        segment_t *seg = &segs[s];
        qsort(seg_entries + seg->first, seg->n, sizeof(entry_t), compare_entries);
        fprintf(f, "segment %zu %" PRId64 "\n", s, seg->mark);
        for (size_t e = seg->first; e < seg->first + seg->n; e++) {
            fprintf(f, "0x%08" PRIx64 " %" PRIu64 "\n", seg_entries[e].addr, seg_entries[e].count);
            total += seg_entries[e].count;
        }
    }
    fprintf(f, "end %" PRIu64 "%s\n", total, out_of_memory ? " incomplete" : "");
    /* Rename only a complete file, so a reader never sees a half-written one. */
    if (fclose(f) != 0 || rename(tmp, out_path) != 0) {
        fputs("insn_count: cannot write the output file\n", stderr);
    }
    pthread_mutex_unlock(&lock);
}

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

ED_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                         char **argv)
{
    (void)info;
    /* Errors go to stderr: qemu_plugin_outs only reaches the log, which is off by default. */
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "out=", 4) == 0) {
            out_path = strdup(arg + 4);
        } else if (strncmp(arg, "mark_pads=", 10) == 0) {
            marks_enabled = parse_range(arg + 10, &pads_lo, &pads_hi);
            if (!marks_enabled) {
                fprintf(stderr, "insn_count: bad range in '%s' (want LO:HI)\n", arg);
                return -1;
            }
        } else {
            fprintf(stderr, "insn_count: unknown argument '%s' (known: out, mark_pads)\n", arg);
            return -1;
        }
    }
    if (!out_path || !*out_path) {
        fprintf(stderr, "insn_count: missing out=PATH\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, write_output, NULL);
    return 0;
}
