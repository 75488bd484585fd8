/* The static path's compiled kernel: mean pooling of token vectors, with the GIL released.

   pool(table, ids, slots, dims, out): for each text (its `slots[i]` ids, text after text in `ids`), the first
   `dims` components of its rows of `table` are added in token order into a float32 accumulator, starting from
   zero, and divided by the token count (a text without tokens gives zeros). This is exactly the sequential float32
   sum numpy makes over axis 0 of `table[ids]` (and so model2vec's np.mean): each component is summed on its own, in
   the same order, with no reassociation (no -ffast-math, no FMA: only additions and one division), so the vectors
   are bit-identical to the numpy path's whatever the instruction set.

   Buffers come through the buffer protocol (no numpy headers): the table any C-contiguous float32 2D buffer (a
   memory map will do), ids and slots C-contiguous int64, out a writable C-contiguous float32 (texts, dims)
   buffer. An id outside the table is an IndexError, and `out` is then not to be used. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* One build runs everywhere, with AVX2 where the CPU has it (chosen once, at load). Additions only, lane by
   lane: the same results either way. */
#define S2D_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define S2D_CLONES
#endif

/* Eight float32 lanes: one AVX register (two SSE ones in the default build). Lane-wise additions only. */
typedef float s2d_v8 __attribute__((vector_size(32)));
#define S2D_BLOCK 64 /* components summed in registers at a time: 8 accumulators of 8 lanes */

/* Sum the rows `ids[0:n]` (first `dims` components, row stride `stride`) into acc, in order; -1 on a bad id,
   with *bad set to it. The components are taken 64 at a time, each block's sums held in registers while every
   row's part of it is added (the accumulator is not stored and loaded again once per row); the rest 8 at a time, then one by one.
   Either way each component is 0 + row0 + row1 + ... in token order, as before. */
S2D_CLONES
static int sum_rows(const float *table, Py_ssize_t rows, Py_ssize_t stride, const int64_t *ids, Py_ssize_t n,
                    Py_ssize_t dims, float *restrict acc, int64_t *bad) {
    for (Py_ssize_t j = 0; j < n; j++) {
        if (ids[j] < 0 || ids[j] >= rows) {
            *bad = ids[j];
            return -1;
        }
    }
    Py_ssize_t d0 = 0;
#if defined(__GNUC__)
    for (; d0 + S2D_BLOCK <= dims; d0 += S2D_BLOCK) {
        s2d_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
        for (Py_ssize_t j = 0; j < n; j++) {
            const float *row = table + (size_t)ids[j] * (size_t)stride + d0;
            if (d0 == 0 && j + 2 < n) { /* the row two tokens ahead, on its way from memory */
                const char *next = (const char *)(table + (size_t)ids[j + 2] * (size_t)stride);
                for (Py_ssize_t b = 0; b < dims * 4; b += 64) __builtin_prefetch(next + b);
            }
            s2d_v8 r0, r1, r2, r3, r4, r5, r6, r7;
            memcpy(&r0, row, 32);
            memcpy(&r1, row + 8, 32);
            memcpy(&r2, row + 16, 32);
            memcpy(&r3, row + 24, 32);
            memcpy(&r4, row + 32, 32);
            memcpy(&r5, row + 40, 32);
            memcpy(&r6, row + 48, 32);
            memcpy(&r7, row + 56, 32);
            a0 += r0;
            a1 += r1;
            a2 += r2;
            a3 += r3;
            a4 += r4;
            a5 += r5;
            a6 += r6;
            a7 += r7;
        }
        memcpy(acc + d0, &a0, 32);
        memcpy(acc + d0 + 8, &a1, 32);
        memcpy(acc + d0 + 16, &a2, 32);
        memcpy(acc + d0 + 24, &a3, 32);
        memcpy(acc + d0 + 32, &a4, 32);
        memcpy(acc + d0 + 40, &a5, 32);
        memcpy(acc + d0 + 48, &a6, 32);
        memcpy(acc + d0 + 56, &a7, 32);
    }
    for (; d0 + 8 <= dims; d0 += 8) { /* what is left, 8 components at a time */
        s2d_v8 a = {0};
        for (Py_ssize_t j = 0; j < n; j++) {
            s2d_v8 r;
            memcpy(&r, table + (size_t)ids[j] * (size_t)stride + d0, 32);
            a += r;
        }
        memcpy(acc + d0, &a, 32);
    }
#endif
    if (d0 < dims) {
        for (Py_ssize_t d = d0; d < dims; d++) acc[d] = 0.0f;
        for (Py_ssize_t j = 0; j < n; j++) {
            const float *restrict row = table + (size_t)ids[j] * (size_t)stride;
            for (Py_ssize_t d = d0; d < dims; d++) acc[d] += row[d];
        }
    }
    return 0;
}

static int check_ints(Py_buffer *b, const char *name) {
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == '<') f++;
    if (b->ndim != 1 || b->itemsize != 8 || !(strcmp(f, "l") == 0 || strcmp(f, "q") == 0)) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous 1D int64 buffer", name);
        return -1;
    }
    return 0;
}

static int check_floats(Py_buffer *b, const char *name) {
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == '<') f++;
    if (b->ndim != 2 || b->itemsize != 4 || strcmp(f, "f") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous 2D float32 buffer", name);
        return -1;
    }
    return 0;
}

static PyObject *kernel_pool(PyObject *self, PyObject *args) {
    PyObject *table_o, *ids_o, *slots_o, *out_o;
    Py_ssize_t dims;
    long long skip = -1; /* a token id left out of the mean (model2vec drops the unknown token), or -1 */
    if (!PyArg_ParseTuple(args, "OOOnO|L:pool", &table_o, &ids_o, &slots_o, &dims, &out_o, &skip)) return NULL;
    Py_buffer table = {0}, ids = {0}, slots = {0}, out = {0};
    PyObject *result = NULL;
    int64_t *kept = NULL; /* one text's ids but `skip`, where a text holds it */
    if (PyObject_GetBuffer(table_o, &table, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(ids_o, &ids, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(slots_o, &slots, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(out_o, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) goto done;
    if (check_floats(&table, "table") < 0 || check_floats(&out, "out") < 0) goto done;
    if (check_ints(&ids, "ids") < 0 || check_ints(&slots, "slots") < 0) goto done;
    Py_ssize_t rows = table.shape[0], stride = table.shape[1];
    Py_ssize_t n = slots.shape[0], total_ids = ids.shape[0];
    if (dims < 1 || dims > stride || out.shape[0] != n || out.shape[1] != dims) {
        PyErr_SetString(PyExc_ValueError, "pool: dims must be 1..table columns, out (texts, dims)");
        goto done;
    }
    const float *tab = (const float *)table.buf;
    const int64_t *idp = (const int64_t *)ids.buf, *sl = (const int64_t *)slots.buf;
    float *o = (float *)out.buf;
    /* the slots must cover exactly the ids */
    Py_ssize_t sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (sl[i] < 0 || sl[i] > total_ids - sum) {
            PyErr_SetString(PyExc_ValueError, "pool: slots do not fit the ids");
            goto done;
        }
        sum += (Py_ssize_t)sl[i];
    }
    if (sum != total_ids) {
        PyErr_SetString(PyExc_ValueError, "pool: slots do not add up to the ids");
        goto done;
    }
    if (skip >= 0) { /* room for the longest text's ids */
        Py_ssize_t longest = 1;
        for (Py_ssize_t i = 0; i < n; i++)
            if (sl[i] > longest) longest = (Py_ssize_t)sl[i];
        if (!(kept = PyMem_Malloc(sizeof(int64_t) * (size_t)longest))) {
            PyErr_NoMemory();
            goto done;
        }
    }
    int64_t bad = 0;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        Py_ssize_t k = (Py_ssize_t)sl[i];
        float *acc = o + (size_t)i * (size_t)dims;
        const int64_t *own = idp + at;
        at += k;
        if (skip >= 0) { /* the same rows in the same order, without `skip`: the sums of the ids dropped first */
            Py_ssize_t m = 0;
            for (Py_ssize_t j = 0; j < k; j++)
                if (own[j] != skip) kept[m++] = own[j];
            if (m < k) own = kept, k = m;
        }
        if (sum_rows(tab, rows, stride, own, k, dims, acc, &bad) < 0) {
            failed = 1;
            break;
        }
        if (k > 1) {
            float count = (float)k;
            for (Py_ssize_t d = 0; d < dims; d++) acc[d] = acc[d] / count;
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_Format(PyExc_IndexError, "pool: token id %lld is outside the table's %zd rows", (long long)bad, rows);
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(kept);
    if (table.obj) PyBuffer_Release(&table);
    if (ids.obj) PyBuffer_Release(&ids);
    if (slots.obj) PyBuffer_Release(&slots);
    if (out.obj) PyBuffer_Release(&out);
    return result;
}


/* ---- The word cache's table: each piece's ids, keyed by the piece's UTF-8 bytes ----------------------------------

   Pieces(): an open-addressing hash table from a piece (the bytes between two spaces of a text, and whether it
   starts its text, where that matters) to its token ids and whether a text holding it is tokenized whole. The
   Python side (wordcache.py) decides everything about a piece; this only stores and finds. A hit is the stored
   bytes compared in full, never the hash alone.

   look_up(texts, uniform) cuts each text at U+0020 (as str.split(" ")) with the GIL released, under a read lock,
   in one pass: (flat ids of the texts whose pieces were all found, ids per text, texts holding a piece to tokenize
   whole, texts with a piece not found, those pieces as str, each once, with whether each starts its text). Texts
   are read as UTF-8 (one not ASCII is encoded with the GIL released; a lone surrogate raises UnicodeEncodeError). A text with a piece
   not found gets no ids and no count here: Python tokenizes the pieces, insert()s them and looks up those texts
   again. insert() and clear() take the write lock (the GIL released while they wait), so no reader ever sees a
   table half grown or an entry half written. */

#ifdef _WIN32
#include <windows.h>
typedef SRWLOCK s2d_rwlock;
#define RW_INIT(l) InitializeSRWLock(l)
#define RW_READ(l) AcquireSRWLockShared(l)
#define RW_READ_END(l) ReleaseSRWLockShared(l)
#define RW_WRITE(l) AcquireSRWLockExclusive(l)
#define RW_WRITE_END(l) ReleaseSRWLockExclusive(l)
#define RW_FREE(l)
#else
#include <pthread.h>
typedef pthread_rwlock_t s2d_rwlock;
#define RW_INIT(l) pthread_rwlock_init(l, NULL)
#define RW_READ(l) pthread_rwlock_rdlock(l)
#define RW_READ_END(l) pthread_rwlock_unlock(l)
#define RW_WRITE(l) pthread_rwlock_wrlock(l)
#define RW_WRITE_END(l) pthread_rwlock_unlock(l)
#define RW_FREE(l) pthread_rwlock_destroy(l)
#endif

typedef struct {
    uint64_t hash;
    int64_t key_at, ids_at; /* in keys / ids */
    int32_t key_len, ids_len;
    int32_t unsafe, used;
} Entry;

typedef struct {
    PyObject_HEAD
    s2d_rwlock lock;
    Entry *slots;
    size_t mask, count;
    char *keys;
    size_t keys_len, keys_cap;
    int64_t *ids;
    size_t ids_len, ids_cap;
} Pieces;

static uint64_t hash_bytes(const char *p, size_t n, int first) {
    uint64_t h = 0x243F6A8885A308D3ULL ^ (uint64_t)n ^ ((uint64_t)first << 63);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
}

/* The entry of (p, n, first), or NULL. Under the read or write lock. */
static Entry *find(Pieces *t, const char *p, size_t n, int first, uint64_t h) {
    if (!t->slots) return NULL;
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        Entry *e = &t->slots[i];
        if (!e->used) return NULL;
        if (e->hash == h && (size_t)e->key_len == n + 1 && t->keys[e->key_at] == (char)first &&
            memcmp(t->keys + e->key_at + 1, p, n) == 0)
            return e;
    }
}

static int grow(void **buf, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *b = realloc(*buf, c * item);
    if (!b) return -1;
    *buf = b;
    *cap = c;
    return 0;
}

static int rehash(Pieces *t, size_t capacity) {
    Entry *fresh = calloc(capacity, sizeof(Entry));
    if (!fresh) return -1;
    size_t mask = capacity - 1;
    if (t->slots) {
        for (size_t i = 0; i <= t->mask; i++) {
            Entry *e = &t->slots[i];
            if (!e->used) continue;
            size_t j = (size_t)e->hash & mask;
            while (fresh[j].used) j = (j + 1) & mask;
            fresh[j] = *e;
        }
        free(t->slots);
    }
    t->slots = fresh;
    t->mask = mask;
    return 0;
}

static void pieces_reset(Pieces *t) {
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
    t->count = 0;
    t->keys_len = 0;
    t->ids_len = 0;
}

static PyObject *pieces_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Pieces *t = (Pieces *)type->tp_alloc(type, 0);
    if (!t) return NULL;
    RW_INIT(&t->lock);
    return (PyObject *)t;
}

static void pieces_dealloc(Pieces *t) {
    pieces_reset(t);
    free(t->keys);
    free(t->ids);
    RW_FREE(&t->lock);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static Py_ssize_t pieces_len(Pieces *t) { return (Py_ssize_t)t->count; }

typedef struct {
    const char *p; /* its UTF-8 */
    Py_ssize_t n;
    const void *data; /* not ASCII: its code points (`kind` bytes each), to encode with the GIL released */
    Py_ssize_t chars;
    int kind;
} Text;

#define S2D_UTF8(TYPE)                                                                                               \
    for (Py_ssize_t k = 0; k < chars; k++) {                                                                         \
        Py_UCS4 c = ((const TYPE *)data)[k];                                                                         \
        if (c < 0x80) {                                                                                              \
            *o++ = (unsigned char)c;                                                                                 \
        } else if (c < 0x800) {                                                                                      \
            *o++ = (unsigned char)(0xC0 | (c >> 6));                                                                 \
            *o++ = (unsigned char)(0x80 | (c & 0x3F));                                                               \
        } else if (c < 0x10000) {                                                                                    \
            if (c >= 0xD800 && c <= 0xDFFF) return -1;                                                               \
            *o++ = (unsigned char)(0xE0 | (c >> 12));                                                                \
            *o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));                                                        \
            *o++ = (unsigned char)(0x80 | (c & 0x3F));                                                               \
        } else {                                                                                                     \
            *o++ = (unsigned char)(0xF0 | (c >> 18));                                                                \
            *o++ = (unsigned char)(0x80 | ((c >> 12) & 0x3F));                                                       \
            *o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));                                                        \
            *o++ = (unsigned char)(0x80 | (c & 0x3F));                                                               \
        }                                                                                                            \
    }

/* The UTF-8 of `chars` code points of `kind` bytes at `data`, into `out` (room for 4 bytes each): its length, or
   -1 on a surrogate (not UTF-8: the caller then asks Python, which raises). No GIL needed: str is immutable. */
static Py_ssize_t encode_utf8(const void *data, int kind, Py_ssize_t chars, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (kind == PyUnicode_1BYTE_KIND) {
        S2D_UTF8(Py_UCS1)
    } else if (kind == PyUnicode_2BYTE_KIND) {
        S2D_UTF8(Py_UCS2)
    } else {
        S2D_UTF8(Py_UCS4)
    }
    return (Py_ssize_t)(o - (unsigned char *)out);
}

/* This call's missed pieces, each once: an open-addressing set of their numbers (+ 1) among the miss records. */
typedef struct {
    uint64_t h;
    size_t rec;
} Missed;

static int missed_grow(Missed **set, size_t *mask, size_t count) {
    size_t size = *set ? 2 * (*mask + 1) : 256;
    if (*set && (count + 1) * 2 <= *mask + 1) return 0;
    Missed *fresh = calloc(size, sizeof(Missed));
    if (!fresh) return -1;
    if (*set) {
        for (size_t i = 0; i <= *mask; i++) {
            if (!(*set)[i].rec) continue;
            size_t j = (size_t)(*set)[i].h & (size - 1);
            while (fresh[j].rec) j = (j + 1) & (size - 1);
            fresh[j] = (*set)[i];
        }
        free(*set);
    }
    *set = fresh;
    *mask = size - 1;
    return 0;
}

/* look_up(texts, uniform) -> (flat, slots, whole, pending: int64 bytes; missed pieces, their firsts: lists) */
static PyObject *pieces_look_up(Pieces *t, PyObject *args) {
    PyObject *seq;
    int uniform;
    if (!PyArg_ParseTuple(args, "Op:look_up", &seq, &uniform)) return NULL;
    PyObject *fast = PySequence_Tuple(seq); /* a list could change while the GIL is released */
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    Text *texts = PyMem_Malloc(sizeof(Text) * (size_t)(n ? n : 1));
    int64_t *slots = PyMem_Malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    char *whole = PyMem_Calloc((size_t)(n ? n : 1), 1);
    PyObject *result = NULL;
    int64_t *flat = NULL, *miss = NULL; /* miss: (text, start, length, first), each missed piece once */
    size_t flat_len = 0, flat_cap = 0, miss_len = 0, miss_cap = 0, seen_mask = 0;
    Missed *seen = NULL;
    char *utf8 = NULL; /* the texts that are not ASCII, as UTF-8 */
    if (!texts || !slots || !whole) {
        PyErr_NoMemory();
        goto done;
    }
    size_t room = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = items[i];
        if (!PyUnicode_Check(o)) {
            PyErr_SetString(PyExc_TypeError, "look_up: texts must be str");
            goto done;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(o) < 0) goto done;
#endif
        texts[i].data = NULL;
        if (PyUnicode_IS_ASCII(o)) { /* ASCII is its own UTF-8 */
            texts[i].p = (const char *)PyUnicode_DATA(o);
            texts[i].n = PyUnicode_GET_LENGTH(o);
        } else {
            texts[i].data = PyUnicode_DATA(o);
            texts[i].kind = (int)PyUnicode_KIND(o);
            texts[i].chars = PyUnicode_GET_LENGTH(o);
            room += (size_t)texts[i].chars * 4;
        }
    }
    if (room && !(utf8 = malloc(room))) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    size_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!texts[i].data) continue;
        Py_ssize_t m = encode_utf8(texts[i].data, texts[i].kind, texts[i].chars, utf8 + at);
        if (m < 0) {
            bad = i;
            break;
        }
        texts[i].p = utf8 + at;
        texts[i].n = m;
        at += (size_t)m;
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        Py_ssize_t ignored;
        if (!PyUnicode_AsUTF8AndSize(items[bad], &ignored)) goto done; /* a lone surrogate: the caller falls back */
        PyErr_SetString(PyExc_SystemError, "look_up: a text that is not UTF-8 encoded");
        goto done;
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    RW_READ(&t->lock);
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        const char *p = texts[i].p, *end = p + texts[i].n;
        int64_t count = 0;
        int first = !uniform, missed = 0;
        for (;;) {
            const char *space = memchr(p, ' ', (size_t)(end - p));
            const char *stop = space ? space : end;
            size_t len = (size_t)(stop - p);
            uint64_t h = hash_bytes(p, len, first);
            Entry *e = find(t, p, len, first, h);
            if (!e) {
                missed = 1;
                if (missed_grow(&seen, &seen_mask, miss_len / 4) < 0) {
                    failed = 1;
                    break;
                }
                size_t j = (size_t)h & seen_mask;
                int known = 0;
                for (; seen[j].rec; j = (j + 1) & seen_mask) {
                    const int64_t *q = miss + 4 * (seen[j].rec - 1);
                    if (seen[j].h == h && (size_t)q[2] == len && q[3] == first &&
                        memcmp(texts[q[0]].p + q[1], p, len) == 0) {
                        known = 1;
                        break;
                    }
                }
                if (!known) {
                    if (grow((void **)&miss, &miss_cap, miss_len + 4, sizeof(int64_t)) < 0) {
                        failed = 1;
                        break;
                    }
                    miss[miss_len++] = i;
                    miss[miss_len++] = (int64_t)(p - texts[i].p);
                    miss[miss_len++] = (int64_t)len;
                    miss[miss_len++] = first;
                    seen[j].h = h;
                    seen[j].rec = miss_len / 4;
                }
            } else if (!missed) {
                if (e->unsafe) whole[i] = 1;
                if (grow((void **)&flat, &flat_cap, flat_len + (size_t)e->ids_len, sizeof(int64_t)) < 0) {
                    failed = 1;
                    break;
                }
                memcpy(flat + flat_len, t->ids + e->ids_at, sizeof(int64_t) * (size_t)e->ids_len);
                flat_len += (size_t)e->ids_len;
                count += e->ids_len;
            }
            first = 0;
            if (!space) break;
            p = space + 1;
        }
        /* a text to look up again (a piece not found), or whose tokens come from Hugging Face (the whole text) */
        if (missed || whole[i]) {
            flat_len -= (size_t)count;
            count = 0;
        }
        if (missed) {
            whole[i] = 2;
        }
        slots[i] = count;
    }
    RW_READ_END(&t->lock);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    size_t m = miss_len / 4;
    PyObject *found = PyList_New((Py_ssize_t)m), *firsts = PyList_New((Py_ssize_t)m);
    if (!found || !firsts) {
        Py_XDECREF(found);
        Py_XDECREF(firsts);
        goto done;
    }
    for (size_t k = 0; k < m; k++) {
        int64_t *q = miss + 4 * k;
        PyObject *piece = PyUnicode_DecodeUTF8(texts[q[0]].p + q[1], (Py_ssize_t)q[2], "strict");
        if (!piece) {
            Py_DECREF(found);
            Py_DECREF(firsts);
            goto done;
        }
        PyList_SET_ITEM(found, (Py_ssize_t)k, piece);
        PyList_SET_ITEM(firsts, (Py_ssize_t)k, PyBool_FromLong((long)q[3]));
    }
    size_t nw = 0, np_ = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        nw += whole[i] == 1;
        np_ += whole[i] == 2;
    }
    PyObject *wb = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(nw * sizeof(int64_t)));
    PyObject *pb = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(np_ * sizeof(int64_t)));
    if (!wb || !pb) {
        Py_XDECREF(wb);
        Py_XDECREF(pb);
        Py_DECREF(found);
        Py_DECREF(firsts);
        goto done;
    }
    int64_t *w = (int64_t *)PyBytes_AS_STRING(wb), *pe = (int64_t *)PyBytes_AS_STRING(pb);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (whole[i] == 1) *w++ = i;
        if (whole[i] == 2) *pe++ = i;
    }
    /* (a NULL buffer would be None) */
    result = Py_BuildValue("(y#y#NNNN)", flat ? (const char *)flat : "", (Py_ssize_t)(flat_len * sizeof(int64_t)),
                           (const char *)slots, (Py_ssize_t)(n * sizeof(int64_t)), wb, pb, found, firsts);
done:
    Py_DECREF(fast);
    PyMem_Free(texts);
    PyMem_Free(slots);
    PyMem_Free(whole);
    free(flat);
    free(miss);
    free(seen);
    free(utf8);
    return result;
}

/* insert(pieces, firsts, ids, lengths, unsafe, limit) -> whether the table was cleared first (it would have held
   more than `limit` pieces). ids: int64 buffer, lengths and unsafe: per piece. */
static PyObject *pieces_insert(Pieces *t, PyObject *args) {
    PyObject *pieces_o, *firsts_o, *ids_o, *lengths_o, *unsafe_o;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "OOOOOn:insert", &pieces_o, &firsts_o, &ids_o, &lengths_o, &unsafe_o, &limit))
        return NULL;
    Py_buffer ids = {0}, lengths = {0};
    PyObject *pf = NULL, *ff = NULL, *uf = NULL, *result = NULL;
    const char **ptrs = NULL;
    Py_ssize_t *sizes = NULL;
    char *flags = NULL;
    if (PyObject_GetBuffer(ids_o, &ids, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(lengths_o, &lengths, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (check_ints(&ids, "ids") < 0 || check_ints(&lengths, "lengths") < 0) goto done;
    pf = PySequence_Fast(pieces_o, "pieces");
    ff = PySequence_Fast(firsts_o, "firsts");
    uf = PySequence_Fast(unsafe_o, "unsafe");
    if (!pf || !ff || !uf) goto done;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(pf);
    const int64_t *ln = (const int64_t *)lengths.buf;
    if (PySequence_Fast_GET_SIZE(ff) != m || PySequence_Fast_GET_SIZE(uf) != m || lengths.shape[0] != m) {
        PyErr_SetString(PyExc_ValueError, "insert: one first, length and unsafe flag per piece");
        goto done;
    }
    int64_t total = 0;
    for (Py_ssize_t k = 0; k < m; k++) {
        if (ln[k] < 0) {
            PyErr_SetString(PyExc_ValueError, "insert: negative length");
            goto done;
        }
        total += ln[k];
    }
    if (total != ids.shape[0]) {
        PyErr_SetString(PyExc_ValueError, "insert: lengths do not add up to the ids");
        goto done;
    }
    ptrs = PyMem_Malloc(sizeof(char *) * (size_t)(m ? m : 1));
    sizes = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(m ? m : 1));
    flags = PyMem_Malloc((size_t)(m ? m : 1) * 2);
    if (!ptrs || !sizes || !flags) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < m; k++) {
        PyObject *piece = PySequence_Fast_GET_ITEM(pf, k);
        if (!PyUnicode_Check(piece)) {
            PyErr_SetString(PyExc_TypeError, "insert: pieces must be str");
            goto done;
        }
        ptrs[k] = PyUnicode_AsUTF8AndSize(piece, &sizes[k]);
        if (!ptrs[k]) goto done;
        int a = PyObject_IsTrue(PySequence_Fast_GET_ITEM(ff, k)), b = PyObject_IsTrue(PySequence_Fast_GET_ITEM(uf, k));
        if (a < 0 || b < 0) goto done;
        flags[2 * k] = (char)a;
        flags[2 * k + 1] = (char)b;
    }
    const int64_t *idp = (const int64_t *)ids.buf;
    int cleared = 0, failed = 0;
    Py_BEGIN_ALLOW_THREADS
    RW_WRITE(&t->lock);
    if (t->count + (size_t)m > (size_t)limit) {
        pieces_reset(t);
        cleared = 1;
    }
    size_t at = 0;
    for (Py_ssize_t k = 0; k < m && !failed; k++) {
        size_t len = (size_t)sizes[k];
        int first = flags[2 * k];
        uint64_t h = hash_bytes(ptrs[k], len, first);
        if (find(t, ptrs[k], len, first, h)) { /* put there by another call meanwhile: the same ids */
            at += (size_t)ln[k];
            continue;
        }
        if ((t->count + 1) * 2 > (t->slots ? t->mask + 1 : 0) &&
            rehash(t, t->slots ? 2 * (t->mask + 1) : 4096) < 0) {
            failed = 1;
            break;
        }
        if (grow((void **)&t->keys, &t->keys_cap, t->keys_len + len + 1, 1) < 0 ||
            grow((void **)&t->ids, &t->ids_cap, t->ids_len + (size_t)ln[k], sizeof(int64_t)) < 0) {
            failed = 1;
            break;
        }
        Entry e = {h, (int64_t)t->keys_len, (int64_t)t->ids_len, (int32_t)(len + 1), (int32_t)ln[k], flags[2 * k + 1], 1};
        t->keys[t->keys_len] = (char)first;
        memcpy(t->keys + t->keys_len + 1, ptrs[k], len);
        t->keys_len += len + 1;
        memcpy(t->ids + t->ids_len, idp + at, sizeof(int64_t) * (size_t)ln[k]);
        t->ids_len += (size_t)ln[k];
        at += (size_t)ln[k];
        size_t j = (size_t)h & t->mask;
        while (t->slots[j].used) j = (j + 1) & t->mask;
        t->slots[j] = e;
        t->count++;
    }
    if (failed) pieces_reset(t); /* never a table half written */
    RW_WRITE_END(&t->lock);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyBool_FromLong(cleared);
done:
    if (ids.obj) PyBuffer_Release(&ids);
    if (lengths.obj) PyBuffer_Release(&lengths);
    Py_XDECREF(pf);
    Py_XDECREF(ff);
    Py_XDECREF(uf);
    PyMem_Free(ptrs);
    PyMem_Free(sizes);
    PyMem_Free(flags);
    return result;
}

static PyObject *pieces_clear(Pieces *t, PyObject *unused) {
    Py_BEGIN_ALLOW_THREADS
    RW_WRITE(&t->lock);
    pieces_reset(t);
    RW_WRITE_END(&t->lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef pieces_methods[] = {
    {"look_up", (PyCFunction)pieces_look_up, METH_VARARGS,
     "look_up(texts, uniform): (flat, slots, whole, pending) as int64 bytes, (missing pieces, their firsts)."},
    {"insert", (PyCFunction)pieces_insert, METH_VARARGS,
     "insert(pieces, firsts, ids, lengths, unsafe, limit): store pieces' ids; True if the table was cleared first."},
    {"clear", (PyCFunction)pieces_clear, METH_NOARGS, "Forget every piece."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods pieces_sequence = {.sq_length = (lenfunc)pieces_len};

static PyTypeObject PiecesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "static2d._static._kernel.Pieces",
    .tp_basicsize = sizeof(Pieces),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The word cache's table of pieces (UTF-8 bytes) and their token ids, for threads at once.",
    .tp_new = pieces_new,
    .tp_dealloc = (destructor)pieces_dealloc,
    .tp_methods = pieces_methods,
    .tp_as_sequence = &pieces_sequence,
};

/* printable_ascii(texts) -> bytes: 1 for each text of printable ASCII only (U+0020 to U+007E; an empty text too),
   else 0: what `text.isascii() and text.isprintable()` says, without a Python call per text. */
static PyObject *kernel_printable_ascii(PyObject *self, PyObject *arg) {
    PyObject *fast = PySequence_Fast(arg, "printable_ascii: texts must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) {
        Py_DECREF(fast);
        return NULL;
    }
    char *o = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = items[i];
        o[i] = 0;
        if (!PyUnicode_Check(t)) continue;
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(t) < 0) {
            Py_DECREF(fast);
            Py_DECREF(out);
            return NULL;
        }
#endif
        if (!PyUnicode_IS_ASCII(t)) continue;
        const unsigned char *p = (const unsigned char *)PyUnicode_DATA(t);
        Py_ssize_t len = PyUnicode_GET_LENGTH(t), k = 0;
        while (k < len && p[k] >= 0x20 && p[k] <= 0x7E) k++;
        o[i] = k == len;
    }
    Py_DECREF(fast);
    return out;
}

/* refusals(pieces, classes, rule, plain_ascii, by_clusters, wide_marks) -> bytes: for each new piece of the word cache
   0 (safe to cut at its spaces), 1 (a text holding it is tokenized whole) or 2 (Python decides:
   `WordCache._refused`), from each character's classes (`WordCache.classes`, one byte per code point that Python
   writes once, after judging the character) exactly as `WordCache._refused` reads them; rule: 0 "drop", 1 "space",
   2 "none"; wide_marks: a base with marks only in a cluster of 6 UTF-8 bytes or more (Precompiled maps a shorter
   grapheme as a whole). Read with the GIL released: the pieces are held, and a byte Python has not written yet reads
   0 (2 here). */
enum { CL_JUDGED = 1, CL_BASE = 2, CL_MARK = 4, CL_TOUCHES = 8, CL_END = 16 };

static char refusal(int kind, const void *data, Py_ssize_t n, const unsigned char *classes, int rule, int plain_ascii,
                    int by_clusters, int wide_marks) {
    if (n == 0) return rule != 0; /* two spaces in a row, or a space at an end */
    if (plain_ascii && rule != 2) {
        Py_ssize_t k = 0;
        while (k < n && PyUnicode_READ(kind, data, k) >= 0x20 && PyUnicode_READ(kind, data, k) <= 0x7E) k++;
        if (k == n) return 0;
    }
    Py_UCS4 first = PyUnicode_READ(kind, data, 0), last = PyUnicode_READ(kind, data, n - 1);
    if (!(classes[last] & CL_JUDGED)) return 2;
    if (classes[last] & CL_END) return 1;
    if (rule == 2) return first == 0x2581 || last == 0x2581;
    if (!by_clusters || !(classes[first] & CL_BASE)) return 2;
    int marked = 0, size = 0; /* the current cluster: whether it has a mark, its UTF-8 bytes */
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, k);
        unsigned char b = classes[c];
        if (!(b & CL_JUDGED) || (b & CL_TOUCHES) || !(b & (CL_BASE | CL_MARK))) return 2;
        int bytes = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (b & CL_BASE) {
            if (wide_marks && marked && size < 6) return 2;
            marked = 0;
            size = bytes;
        } else {
            marked = 1;
            size += bytes;
        }
    }
    return wide_marks && marked && size < 6 ? 2 : 0;
}

static PyObject *kernel_refusals(PyObject *self, PyObject *args) {
    PyObject *seq, *classes_o;
    int rule, plain_ascii, by_clusters, wide_marks;
    if (!PyArg_ParseTuple(args, "OOippp:refusals", &seq, &classes_o, &rule, &plain_ascii, &by_clusters, &wide_marks))
        return NULL;
    Py_buffer classes = {0};
    if (PyObject_GetBuffer(classes_o, &classes, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (classes.len != 0x110000 || classes.itemsize != 1) {
        PyBuffer_Release(&classes);
        PyErr_SetString(PyExc_ValueError, "refusals: classes must be 0x110000 bytes, one per code point");
        return NULL;
    }
    PyObject *fast = PySequence_Tuple(seq); /* a list could change while the GIL is released */
    PyObject *out = NULL;
    Text *pieces = NULL;
    if (!fast) goto done;
    Py_ssize_t n = PyTuple_GET_SIZE(fast);
    pieces = PyMem_Malloc(sizeof(Text) * (size_t)(n ? n : 1));
    out = PyBytes_FromStringAndSize(NULL, n);
    if (!pieces || !out) {
        Py_CLEAR(out);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(fast, i);
        if (!PyUnicode_Check(o)) {
            Py_CLEAR(out);
            PyErr_SetString(PyExc_TypeError, "refusals: pieces must be str");
            goto done;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(o) < 0) {
            Py_CLEAR(out);
            goto done;
        }
#endif
        pieces[i].data = PyUnicode_DATA(o);
        pieces[i].kind = (int)PyUnicode_KIND(o);
        pieces[i].chars = PyUnicode_GET_LENGTH(o);
    }
    char *o = PyBytes_AS_STRING(out);
    const unsigned char *table = (const unsigned char *)classes.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        o[i] = refusal(pieces[i].kind, pieces[i].data, pieces[i].chars, table, rule, plain_ascii, by_clusters,
                       wide_marks);
    Py_END_ALLOW_THREADS
done:
    PyMem_Free(pieces);
    Py_XDECREF(fast);
    PyBuffer_Release(&classes);
    return out;
}

/* longest(texts) -> int: the length of the longest text (0 for none), or -1 - i where item i is the first that is not
   a str: whether a batch needs the format's character cap, in one pass without a Python call per text. */
static PyObject *kernel_longest(PyObject *self, PyObject *arg) {
    PyObject *fast = PySequence_Fast(arg, "longest: texts must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast), most = 0;
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = items[i];
        if (!PyUnicode_CheckExact(t)) {
            most = -1 - i;
            break;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(t) < 0) {
            Py_DECREF(fast);
            return NULL;
        }
#endif
        Py_ssize_t len = PyUnicode_GET_LENGTH(t);
        if (len > most) most = len;
    }
    Py_DECREF(fast);
    return PyLong_FromSsize_t(most);
}

static PyMethodDef methods[] = {
    {"refusals", kernel_refusals, METH_VARARGS,
     "refusals(pieces, classes, rule, plain_ascii, by_clusters, wide_marks): bytes, 0 safe, 1 refused, 2 ask Python."},
    {"longest", kernel_longest, METH_O,
     "longest(texts): the longest text's length, or -1 - i where item i is the first that is not a str."},
    {"printable_ascii", kernel_printable_ascii, METH_O,
     "printable_ascii(texts): bytes, 1 for each text of printable ASCII only (U+0020 to U+007E), else 0."},
    {"pool", kernel_pool, METH_VARARGS,
     "pool(table, ids, slots, dims, out, skip=-1): each text's mean of its rows' first dims components (the rows of "
     "token `skip` left out), into out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel", "static2d's compiled static-path kernel.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__kernel(void) {
    if (PyType_Ready(&PiecesType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&PiecesType);
    if (PyModule_AddObject(m, "Pieces", (PyObject *)&PiecesType) < 0) {
        Py_DECREF(&PiecesType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
